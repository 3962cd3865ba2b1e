/* Built for another ABI major: the loader must refuse it, naming both majors. */
#include "abi_fixture_sink.h"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    .abi_major = SLUICE_ABI_MAJOR + 1,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_plugin),
    .name = "abi-wrong-major",
    .version = "1.0.0",
    .summary = "ABI fixture: built for the next ABI major",
    .sink = &abi_fixture_sink,
};
