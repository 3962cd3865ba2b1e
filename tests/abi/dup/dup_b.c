/* One of two plugins that share the name "abi-dup": the loader must refuse the second it sees. */
#include "../abi_fixture_sink.h"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,      .name = "abi-dup",
    .version = "1.0.0",        .summary = "ABI fixture: a duplicate plugin name (copy B)",
    .sink = &abi_fixture_sink,
};
