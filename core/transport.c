/* transport.c — see transport.h: the choice of the run's transport among those linked in. */
#include "transport.h"

/* The bounds of the linker set TRANSPORT_REGISTER fills (the linker defines them for a section
 * whose name is a C identifier). Weak: a program that links no transport still links, with an
 * empty set (both NULL). */
extern const struct transport_ops *const __start_sluice_transport[] __attribute__((weak));
extern const struct transport_ops *const __stop_sluice_transport[] __attribute__((weak));

const struct transport_ops *transport_choose(const sluice_config_t *global)
{
    const struct transport_ops *best = NULL;
    for (const struct transport_ops *const *t = __start_sluice_transport;
         t && t < __stop_sluice_transport; t++)
        if ((*t)->wanted(global) && (!best || (*t)->rank > best->rank)) /* each asked: it may log */
            best = *t;
    return best;
}
