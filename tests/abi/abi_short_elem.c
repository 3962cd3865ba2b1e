/* Declares a configuration field smaller than ABI 1.2's: the loader must refuse it rather than walk
 * the table with that stride. */
#include "abi_fixture_sink.h"

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_plugin),
    .config_field_size = sizeof(const char *),
    .name = "abi-short-elem",
    .version = "1.0.0",
    .summary = "ABI fixture: a configuration field size too small to be one",
    .sink = &abi_fixture_sink,
};
