/*
 * A descriptor that claims to be 8 bytes long: too short to hold even its own header, let alone a
 * name. The loader must refuse it instead of reading past struct_size.
 */
#include <sluice/plugin.h>

/* Its own struct: the real one cannot be initialised with a wrong size by accident. */
struct abi_short_descriptor {
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t struct_size;
};

SLUICE_PLUGIN_EXPORT const struct abi_short_descriptor sluice_plugin = {
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = 8,
};
