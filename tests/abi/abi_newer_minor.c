/* Built for a newer ABI minor than the core knows: the loader must refuse it, naming both minors.
 */
#include "abi_fixture_sink.h"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR + 5,
    .struct_size = sizeof(struct sluice_plugin),
    .name = "abi-newer-minor",
    .version = "1.0.0",
    .summary = "ABI fixture: built for a newer ABI minor",
    .sink = &abi_fixture_sink,
};
