/* Exports a data symbol, but not `sluice_plugin`: the loader must say which symbol it looked for.
 */
#include "abi_fixture_sink.h"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin_descriptor = {
    SLUICE_PLUGIN_HEADER,      .name = "abi-missing-descriptor",
    .version = "1.0.0",        .summary = "ABI fixture: the descriptor has the wrong symbol name",
    .sink = &abi_fixture_sink,
};
