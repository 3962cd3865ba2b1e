/*
 * hello — the smallest useful sluice plugin: a transform that adds the header `hello: world` to
 * every record and passes it on.
 *
 * It is built outside the sluice source tree, against the installed header only:
 *
 *     cc $(pkg-config --cflags sluice-plugin) -shared -fPIC -Wl,-z,defs -o hello.so hello.c
 *
 * `-z defs` proves the point of the ABI: a plugin has no undefined symbols, because everything it
 * needs from sluice arrives through the `struct sluice_host` function table given to `init`.
 * Let sluice find it (put its directory in SLUICE_PLUGIN_PATH or in `plugin.path` of the YAML),
 * check it with `sluice plugins check hello.so`, and use it in a pipeline:
 *
 *     transforms:
 *       - plugin: hello
 *         config: { header: greeting }   # optional; the header name, default "hello"
 */
#include <stdio.h>
#include <stdlib.h>

#include <sluice/plugin.h>

/* Everything an instance needs, allocated in init and freed in destroy. */
struct hello {
    const struct sluice_host *host; /* the core's services; valid until destroy returns */
    sluice_ctx_t *ctx;              /* who we are, for logging */
    const char *header;             /* points into the config, which outlives the instance */
};

/*
 * The configuration table. The core checks the YAML against it before init (unknown keys, types,
 * defaults), and `sluice plugins docs hello` prints it as documentation.
 */
static const struct sluice_config_field hello_config[] = {
    {.name = "header",
     .type = SLUICE_CFG_STRING,
     .default_value = "hello",
     .description = "Name of the header to add; its value is always `world`.",
     .example = "greeting"},
    {.name = NULL}, /* ends the table */
};

static sluice_err_t hello_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                               const sluice_config_t *config, void **state, char *errstr,
                               size_t errstr_size)
{
    struct hello *h = calloc(1, sizeof *h);

    if (h == NULL) {
        /* Say what went wrong; the core prefixes the pipeline and instance names. */
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    h->host = host;
    h->ctx = ctx;
    /* Defaults are already applied: the key always has a value here. */
    h->header = host->config_string(config, "header");
    host->log(ctx, SLUICE_LOG_DEBUG, "adding header '%s: world' to every record", h->header);
    *state = h;
    return SLUICE_OK;
}

/* Called once per record on the pipeline's thread; no locking needed. */
static sluice_err_t hello_process(void *state, sluice_record_t *record, sluice_batch_t *out,
                                  char *errstr, size_t errstr_size)
{
    struct hello *h = state;

    (void)errstr;
    (void)errstr_size;
    /* The header name and value are copied into the record's batch: no memory to manage here. */
    h->host->record_add_header(record, h->header, "world", 5);
    /* Forwarding is explicit: a record not pushed to `out` is dropped. */
    return h->host->batch_push(out, record);
}

static void hello_destroy(void *state)
{
    free(state);
}

static const struct sluice_transform hello_transform = {
    .struct_size = sizeof(struct sluice_transform), /* lets the core know which fields exist */
    .config = hello_config,
    .init = hello_init,
    .process = hello_process,
    .destroy = hello_destroy,
};

/*
 * The one exported symbol. SLUICE_PLUGIN_HEADER fills in the ABI version and struct size, so an
 * incompatible core refuses this file with a clear message instead of crashing. Being plain data,
 * it lets `sluice plugins` and `sluice lint` read the name and config table without running any
 * code.
 */
SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .summary = "Add the header `hello: world` to every record",
    .description = "An example transform, built out of tree: it adds one header to every record "
                   "and forwards the record unchanged otherwise.",
    .transform = &hello_transform,
};
