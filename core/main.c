/* main.c — the command line: run, lint, plugins, version. Exit codes: 0 ok, 1 a pipeline failed
 * while running, 2 the configuration or the command line is wrong. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "http.h"
#include "loader.h"
#include "log.h"
#include "runtime.h"
#include "sluice_build.h"
#include "testrun.h"
#include "top.h"

static void usage(FILE *out)
{
    fputs(
        "usage: sluice run [--quiet] [--offsets PATH] [--listeners URL] [--log-level LEVEL] "
        "FILE...\n"
        "       sluice lint [--print] FILE...\n"
        "       sluice test [-v] FILE_test.yaml...\n"
        "       sluice plugins [list | docs NAME | check FILE.so]\n"
        "       sluice docs config\n"
        "       sluice connectors [--url URL] [--user USER:PASSWORD] [--json] list |\n"
        "                         status|config|offsets|pause|resume|restart|stop|delete NAME\n"
        "       sluice tap [--url URL] [--user USER:PASSWORD] [--stage STAGE] [--limit N] NAME\n"
        "       sluice top [--url URL] [--user USER:PASSWORD] [--interval SECONDS]\n"
        "       sluice version\n"
        "\n"
        "  run      run the pipelines of the YAML files until their sources end or SIGINT/SIGTERM\n"
        "  lint     check the files and the plugins' configuration; print every error\n"
        "  test     run pipeline unit tests: records through transforms, compared with what is\n"
        "           expected (see docs/testing.md)\n"
        "  plugins  list the plugins found, print one's reference, or check a plugin file\n"
        "  connectors  operate a running worker through its REST API (Kafka Connect's)\n"
        "  tap      print the records passing a running connector's stage\n"
        "  top      a live view of a worker's connectors: states, rates, lag; keys to act\n"
        "\n"
        "Plugins are searched in SLUICE_PLUGIN_PATH (colon-separated), the YAML's plugin.path,\n"
        "then the directory sluice was built or installed with.\n",
        out);
}

static char **main_argv; /* for the re-execution of an in-process reload */

/* Load the files (`run`: with the state file's connectors) and check the listener's settings
 * (`listeners` from --listeners, the YAML or SLUICE_LISTENERS); `http` (may be NULL) receives them.
 */
static int cmd_load(runtime_t *rt, int argc, char **argv, const char *offsets, int run,
                    const char *listeners, http_settings_t **http)
{
    config_errors_t errs;
    config_errors_init(&errs);
    int rc = (run ? runtime_prepare_run : runtime_prepare)(rt, (const char *const *)argv,
                                                           (size_t)argc, offsets, &errs);
    if (rt->cfg.global || listeners) {
        http_settings_t *s = http_settings_new(rt->cfg.global, listeners, &errs);
        if (!s)
            rc = -1;
        if (http)
            *http = s;
        else
            http_settings_free(s);
    }
    if (rc != 0) {
        config_errors_print(&errs, stderr);
        fprintf(stderr, "sluice: %zu error%s\n", errs.len, errs.len == 1 ? "" : "s");
    }
    config_errors_free(&errs);
    return rc;
}

static int cmd_lint(int argc, char **argv)
{
    int print = 0, i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--print") == 0)
            print = 1;
        else {
            fprintf(stderr, "sluice lint: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "sluice lint: no file given\n");
        return 2;
    }
    runtime_t rt;
    int rc = cmd_load(&rt, argc - i, argv + i, NULL, 0, NULL, NULL) == 0 ? 0 : 2;
    if (rc == 0 && runtime_check_plugins(&rt) != 0)
        rc = 2;
    if (rc == 0) {
        if (print)
            runtime_print(&rt, stdout);
        else
            printf("%d file%s OK: %zu pipeline%s\n", argc - i, argc - i == 1 ? "" : "s",
                   rt.npipelines, rt.npipelines == 1 ? "" : "s");
    }
    runtime_free(&rt);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    int quiet = 0, i = 0;
    const char *offsets = NULL, *listeners = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--offsets") == 0 && i + 1 < argc) {
            offsets = argv[++i];
        } else if (strcmp(argv[i], "--listeners") == 0 && i + 1 < argc) {
            listeners = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            int lvl = log_parse_level(argv[++i]);
            if (lvl < 0) {
                fprintf(stderr, "sluice run: unknown log level '%s' (error, warn, info, debug)\n",
                        argv[i]);
                return 2;
            }
            log_set_level((sluice_log_level_t)lvl);
        } else {
            fprintf(stderr, "sluice run: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "sluice run: no file given\n");
        return 2;
    }
    runtime_t rt;
    int rc, reexec = 0;
    http_settings_t *http = NULL;
    if (cmd_load(&rt, argc - i, argv + i, offsets, 1, listeners, &http) != 0) {
        rc = 2;
    } else {
        rt.quiet = quiet;
        rt.http_settings = http;
        rc = runtime_run(&rt);
        reexec = atomic_load(&rt.reexec) != 0 && rc == 0;
    }
    runtime_free(&rt);
    http_settings_free(http);
    if (reexec) {
        /* An in-process reload (SIGHUP): the run stopped cleanly; the same command again, in the
         * same process (systemd keeps its main pid), reads the files as they are now. */
        execv("/proc/self/exe", main_argv);
        fprintf(stderr, "sluice run: cannot run again after the reload: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

static int plugins_registry(registry_t *reg)
{
    size_t n;
    char **dirs = loader_search_path(NULL, 0, &n);
    registry_init(reg);
    registry_scan(reg, (const char *const *)dirs, n);
    loader_free_path(dirs, n);
    for (size_t i = 0; i < reg->nerrors; i++)
        fprintf(stderr, "%s\n", reg->errors[i]);
    return reg->nerrors ? 2 : 0;
}

static int cmd_plugins(int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "list";
    registry_t reg;
    int rc = 0;
    if (strcmp(sub, "check") == 0) {
        if (argc != 2) {
            fprintf(stderr, "usage: sluice plugins check FILE.so\n");
            return 2;
        }
        loaded_plugin_t *p;
        char err[1024], roles[64];
        if (loader_open(argv[1], &p, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        printf("%s: ok: plugin %s %s (%s, ABI %u.%u): %s\n", argv[1], p->desc.name,
               p->desc.version ? p->desc.version : "?", loader_roles(p, roles, sizeof roles),
               p->desc.abi_major, p->desc.abi_minor, p->desc.summary ? p->desc.summary : "");
        loader_close(p);
        return 0;
    }
    if (strcmp(sub, "list") == 0) {
        rc = plugins_registry(&reg);
        for (size_t i = 0; i < reg.len; i++) {
            char roles[64];
            const loaded_plugin_t *p = reg.plugins[i];
            printf("%-16s %-8s %-24s %s\n", p->desc.name, p->desc.version ? p->desc.version : "?",
                   loader_roles(p, roles, sizeof roles), p->desc.summary ? p->desc.summary : "");
        }
    } else if (strcmp(sub, "docs") == 0 && argc == 2) {
        rc = plugins_registry(&reg);
        const loaded_plugin_t *p = registry_find(&reg, argv[1]);
        const loader_alias_t *alias = NULL;
        if (!p)
            p = registry_find_alias(&reg, argv[1], &alias);
        if (!p) {
            size_t n;
            const char **names = registry_names(&reg, &n);
            const char *hint = names ? config_did_you_mean(argv[1], names, n) : NULL;
            fprintf(stderr, "sluice plugins docs: unknown plugin '%s'%s%s%s\n", argv[1],
                    hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
            free(names);
            rc = 2;
        } else {
            buf_t b;
            buf_init(&b);
            config_docs_markdown(&p->desc, &b);
            fwrite(b.data, 1, b.len, stdout);
            buf_free(&b);
        }
    } else {
        fprintf(stderr, "usage: sluice plugins [list | docs NAME | check FILE.so]\n");
        return 2;
    }
    registry_free(&reg);
    return rc;
}

int main(int argc, char **argv)
{
    main_argv = argv;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "test") == 0)
        return testrun_main(argc - 2, argv + 2);
    if (strcmp(cmd, "lint") == 0)
        return cmd_lint(argc - 2, argv + 2);
    if (strcmp(cmd, "plugins") == 0)
        return cmd_plugins(argc - 2, argv + 2);
    if (strcmp(cmd, "connectors") == 0)
        return client_main(argc - 2, argv + 2);
    if (strcmp(cmd, "tap") == 0)
        return client_tap_main(argc - 2, argv + 2);
    if (strcmp(cmd, "top") == 0)
        return top_main(argc - 2, argv + 2);
    if (strcmp(cmd, "docs") == 0) {
        if (argc != 3 || strcmp(argv[2], "config") != 0) {
            fprintf(stderr,
                    "usage: sluice docs config   (the reference of the core's YAML keys)\n");
            return 2;
        }
        buf_t b;
        buf_init(&b);
        config_docs_core_markdown(&b);
        fwrite(b.data, 1, b.len, stdout);
        buf_free(&b);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sluice %s (plugin ABI %d.%d)\n", SLUICE_VERSION, SLUICE_ABI_MAJOR,
               SLUICE_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
