/* A minimal valid sink: the loader must accept it. */
#include "abi_fixture_sink.h"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,      .name = "abi-good",
    .version = "1.0.0",        .summary = "ABI fixture: a valid sink that does nothing",
    .sink = &abi_fixture_sink,
};
