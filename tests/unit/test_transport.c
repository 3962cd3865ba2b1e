/* The choice of the run's transport (transport_choose) in a program that links the whole core: both
 * tables are in the linker set, Kafka is chosen when the kafka: block is in force and the
 * in-process log otherwise, and Kafka's open checks its block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "kafka.h"
#include "transport.h"

/* The top-level keys of `yaml`, validated as the first file's are. */
static sluice_config_t *global_of(const char *yaml, config_node_t **tree, config_errors_t *errs)
{
    *tree = config_parse_yaml("t.yaml", yaml, strlen(yaml), "/base", errs);
    assert_non_null(*tree);
    config_mark_t where = {"t.yaml", 1, 1};
    sluice_config_t *g =
        config_validate(*tree, config_global_keys, "the top level", &where, "/base", errs);
    assert_non_null(g);
    return g;
}

/* The transport chosen for `yaml` (NULL: no files loaded) is `name`. */
static void check_choice(const char *yaml, const char *name)
{
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree = NULL;
    sluice_config_t *g = yaml ? global_of(yaml, &tree, &errs) : NULL;
    const struct transport_ops *ops = transport_choose(g);
    assert_non_null(ops);
    assert_string_equal(ops->name, name);
    config_free(g);
    config_node_free(tree);
    assert_int_equal(errs.len, 0);
    config_errors_free(&errs);
}

static void test_choice(void **state)
{
    (void)state;
    check_choice(NULL, "in-process");
    check_choice("plugin.path: [x]\n", "in-process");
    check_choice("kafka:\n  bootstrap.servers: 127.0.0.1:9092\n", "Kafka");
    /* An empty bootstrap.servers (an unset ${KAFKA_BOOTSTRAP:-}) switches the block off. */
    check_choice("kafka:\n  bootstrap.servers: ''\n  acks: all\n", "in-process");
}

/* Kafka's open reads its block: a property librdkafka refuses and group.id are errors (the
 * transport is still opened, for lint to go on), and its properties reach offsets.storage. */
static void test_kafka_open(void **state)
{
    (void)state;
    config_errors_t errs;
    config_errors_init(&errs);
    config_node_t *tree = NULL;
    sluice_config_t *g = global_of("kafka:\n  bootstrap.servers: h:9092\n  no.such.property: 1\n"
                                   "  group.id: g\n",
                                   &tree, &errs);
    const struct transport_ops *ops = transport_choose(g);
    transport_t *t = ops->open(g, &errs);
    assert_non_null(t);
    assert_int_equal(errs.len, 2);
    assert_non_null(strstr(errs.msgs[0], "t.yaml:3:"));
    assert_non_null(strstr(errs.msgs[0], "kafka: "));
    assert_non_null(strstr(errs.msgs[0], "no.such.property"));
    assert_non_null(strstr(errs.msgs[1], "kafka: group.id would put every sink in one consumer"));
    const kafka_props_t *kp = kafka_transport_props(t);
    assert_non_null(kp);
    assert_int_equal(kp->n, 3);
    ops->free(t);

    const struct transport_ops *mem = transport_choose(NULL);
    t = mem->open(NULL, &errs);
    assert_non_null(t);
    assert_null(kafka_transport_props(t));
    mem->free(t);
    assert_int_equal(errs.len, 2);
    config_free(g);
    config_node_free(tree);
    config_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_kafka_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
