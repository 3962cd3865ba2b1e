/* config_keys.c — the core's own configuration tables: top-level keys of a pipeline file, the keys
 * of a pipeline, and the keys a sink may override. Names follow Kafka Connect where the concept is
 * the same. The structural keys (`version`, `pipelines`, `id`, `source`, `sinks`, `plugin`,
 * `config`, `transforms`) are checked by config.c itself and are not in these tables. */
#include "config.h"

/* sluice's names, then Kafka Connect's class names for the same converters (a pasted config works).
 */
static const char *const keys_converters[] = {
    "json",
    "string",
    "bytes",
    "avro",
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "io.confluent.connect.avro.AvroConverter",
    NULL};
static const char *const keys_subject_strategies[] = {
    "TopicNameStrategy",
    "RecordNameStrategy",
    "TopicRecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicNameStrategy",
    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
    NULL};
static const char *const keys_decimal_formats[] = {"BASE64", "NUMERIC", NULL};
static const char *const keys_tolerances[] = {"none", "all", NULL};
static const char *const keys_offsets_storage[] = {"file", "kafka", NULL};

const struct sluice_config_field config_global_keys[] = {
    {.name = "connectors.state.file",
     .type = SLUICE_CFG_PATH,
     .description = "Where `sluice run` keeps the connectors created or changed over the REST API "
                    "(a YAML file of pipelines, written atomically, read at start after the files "
                    "given). Default: `connectors.yaml` beside the offsets file.",
     .example = "/var/lib/sluice/connectors.yaml"},
    {.name = "offset.storage.file.filename",
     .type = SLUICE_CFG_PATH,
     .description = "The file where source positions are kept (written atomically, mode 0600). "
                    "Relative paths resolve against the YAML file's directory. Its directory "
                    "must belong to the user sluice runs as (or root) and not be writable by "
                    "others; sluice creates it 0700. Default: `$STATE_DIRECTORY/offsets.json` "
                    "(systemd's `StateDirectory=`), else `$XDG_STATE_HOME/sluice/offsets.json`, "
                    "else `~/.local/state/sluice/offsets.json`, else (no home) "
                    "`/var/lib/sluice/offsets.json`.",
     .example = "state/offsets.json"},
    {.name = "plugin.path",
     .type = SLUICE_CFG_LIST,
     .description = "Extra directories searched for plugins, after `SLUICE_PLUGIN_PATH` and "
                    "before the built-in directory. Relative paths resolve against the YAML "
                    "file's directory.",
     .example = "[plugins, /opt/sluice/plugins]"},
    {.name = "kafka",
     .type = SLUICE_CFG_MAP,
     .description = "Kafka mode: librdkafka properties, passed through (`bootstrap.servers`, "
                    "`security.protocol`, `sasl.*`, …; see docs/kafka.md). Absent, or with an "
                    "empty `bootstrap.servers` (`${KAFKA_BOOTSTRAP:-}` with the variable unset): "
                    "topics are in-process logs and no server is needed.",
     .example = "{bootstrap.servers: 127.0.0.1:9092}"},
    {.name = "schema.registry",
     .type = SLUICE_CFG_MAP,
     .description = "Schema Registry client for the avro converter, with Confluent's names: `url` "
                    "(required), `basic.auth.credentials.source` (`USER_INFO`), "
                    "`basic.auth.user.info` (`key:secret`, a secret), `request.timeout.ms`, "
                    "`ssl.ca.location`. An empty `url` switches the block off.",
     .example = "{url: http://127.0.0.1:8081}"},
    {.name = "offsets.storage",
     .type = SLUICE_CFG_ENUM,
     .default_value = "file",
     .description = "Where source positions are kept: `file` (the local file "
                    "`offset.storage.file.filename`, standalone) or `kafka` (the compacted topic "
                    "`offset.storage.topic`; needs the `kafka:` block). With `group.id`: `kafka`, "
                    "implied.",
     .example = "kafka",
     .enum_values = keys_offsets_storage},
    {.name = "offset.storage.topic",
     .type = SLUICE_CFG_STRING,
     .default_value = "sluice-offsets",
     .description = "With `offsets.storage: kafka`: the compacted topic that holds source "
                    "positions, one record per pipeline (key: the pipeline id); created if "
                    "missing.",
     .example = "connect-offsets"},
    {.name = "offset.storage.replication.factor",
     .type = SLUICE_CFG_INT,
     .default_value = "-1",
     .flags = SLUICE_CFG_RANGE,
     .description = "Replication factor of `offset.storage.topic` when sluice creates it; -1: the "
                    "broker's default.",
     .example = "3",
     .min = -1,
     .max = 32767},
    /* Distributed mode (docs/distributed.md, issue 19): Connect's worker keys where they exist. */
    {.name = "group.id",
     .type = SLUICE_CFG_STRING,
     .description = "Distributed mode: the workers started with this group id and the same "
                    "pipelines share their tasks (Kafka's consumer group protocol over the "
                    "tasks topic `<group.id>-tasks`); each task runs on one of them and moves "
                    "when a worker leaves or dies. Needs the `kafka:` block; positions are then "
                    "kept in `offset.storage.topic` (`offsets.storage: kafka` is implied). "
                    "Unset: standalone.",
     .example = "sluice-prod"},
    {.name = "heartbeat.interval.ms",
     .type = SLUICE_CFG_INT,
     .default_value = "3000",
     .flags = SLUICE_CFG_RANGE,
     .description = "With `group.id`: how often a worker tells the group coordinator it is alive "
                    "(under a third of `session.timeout.ms`).",
     .example = "1000",
     .min = 100,
     .max = 3600000},
    {.name = "session.timeout.ms",
     .type = SLUICE_CFG_INT,
     .default_value = "10000",
     .flags = SLUICE_CFG_RANGE,
     .description = "With `group.id`: a worker not heard of for this long is taken as dead and "
                    "its tasks move to the others (the broker bounds it with "
                    "`group.min.session.timeout.ms` and `group.max.session.timeout.ms`).",
     .example = "30000",
     .min = 1000,
     .max = 3600000},
    {.name = "task.slots",
     .type = SLUICE_CFG_INT,
     .default_value = "60",
     .flags = SLUICE_CFG_RANGE,
     .description = "With `group.id`: partitions of the tasks topic, the units the group hands "
                    "out; task n of pipeline P lives in slot (hash(P) + n) mod `task.slots`. "
                    "Every worker of a group must give the same value; an existing tasks topic "
                    "with another partition count is refused.",
     .example = "120",
     .min = 1,
     .max = 10000},
    {.name = "config.storage.topic",
     .type = SLUICE_CFG_STRING,
     .description = "With `group.id`: the compacted topic (1 partition) of the connectors created, "
                    "changed and deleted over the REST API on any worker; every worker reads it "
                    "and applies each record, so such a connector runs on every worker's slots. "
                    "Created if missing. Default: `<group.id>-configs`.",
     .example = "connect-configs"},
    {.name = "config.storage.replication.factor",
     .type = SLUICE_CFG_INT,
     .default_value = "-1",
     .flags = SLUICE_CFG_RANGE,
     .description = "Replication factor of `config.storage.topic` when sluice creates it; -1: "
                    "the broker's default.",
     .example = "3",
     .min = -1,
     .max = 32767},
    {.name = "status.storage.topic",
     .type = SLUICE_CFG_STRING,
     .description = "With `group.id`: the compacted topic where each worker writes the states of "
                    "the tasks it runs and from which every worker reads the cluster's "
                    "(`GET /connectors/{name}/status` on any worker shows every task with the "
                    "`worker_id` that runs it); created if missing. Default: `<group.id>-status`.",
     .example = "connect-status"},
    {.name = "status.storage.partitions",
     .type = SLUICE_CFG_INT,
     .default_value = "5",
     .flags = SLUICE_CFG_RANGE,
     .description = "Partitions of `status.storage.topic` when sluice creates it (Connect's "
                    "default).",
     .example = "5",
     .min = 1,
     .max = 10000},
    {.name = "status.storage.replication.factor",
     .type = SLUICE_CFG_INT,
     .default_value = "-1",
     .flags = SLUICE_CFG_RANGE,
     .description = "Replication factor of `status.storage.topic` when sluice creates it; -1: "
                    "the broker's default.",
     .example = "3",
     .min = -1,
     .max = 32767},
    {.name = "worker.name",
     .type = SLUICE_CFG_STRING,
     .description = "With `group.id`: this worker's name in the group (its `group.instance.id`: "
                    "static membership, so a restart within `session.timeout.ms` gets the same "
                    "tasks back). Unique per worker. Default: the host name, `:` and the REST "
                    "listener's port (without a listener: `pid` and the process id).",
     .example = "worker-1"},
    {.name = "listeners",
     .type = SLUICE_CFG_STRING,
     .description = "Where `sluice run` serves Kafka Connect's REST API, `/health` and `/metrics` "
                    "(docs/rest-api.md): one URL, `http://HOST:PORT` or `https://HOST:PORT`. An "
                    "empty host listens on every interface; port 0 picks a free port (logged). "
                    "Empty: no listener. Unset: `run --listeners`, else the environment variable "
                    "`SLUICE_LISTENERS`, else `http://127.0.0.1:8083` (loopback only).",
     .example = "https://0.0.0.0:8443"},
    {.name = "rest.advertised.host.name",
     .type = SLUICE_CFG_STRING,
     .description = "The host name the REST API gives as this worker's `worker_id` (Connect's "
                    "key). Default: the listener's host (the machine's name when it listens on "
                    "every interface).",
     .example = "worker-1.example.com"},
    {.name = "rest.advertised.port",
     .type = SLUICE_CFG_INT,
     .flags = SLUICE_CFG_RANGE,
     .description = "The port the REST API gives as this worker's `worker_id` (Connect's key). "
                    "Default: the port it listens on.",
     .example = "8083",
     .min = 1,
     .max = 65535},
    {.name = "listeners.https.ssl.certificate.location",
     .type = SLUICE_CFG_PATH,
     .description = "With an `https://` listener: the server's certificate chain, a PEM file "
                    "(required then).",
     .example = "tls/server.crt"},
    {.name = "listeners.https.ssl.key.location",
     .type = SLUICE_CFG_PATH,
     .description = "With an `https://` listener: the server's private key, a PEM file "
                    "(required then). Keep it readable by sluice's user only.",
     .example = "tls/server.key"},
    {.name = "listeners.https.ssl.key.password",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "The password of an encrypted `listeners.https.ssl.key.location`.",
     .example = "${file:secrets.properties:tls.key.password}"},
    {.name = "rest.basic.auth.credentials.file",
     .type = SLUICE_CFG_PATH,
     .description = "HTTP basic authentication for every request: a credentials file in the "
                    "format of the `PropertyFileLoginModule` that Connect's "
                    "`BasicAuthSecurityRestExtension` reads, one `user: password[,role...]` line "
                    "each (`#` comments; plain passwords only). Passwords are compared in "
                    "constant time; a request without valid credentials gets 401. Re-read at "
                    "start only.",
     .example = "rest-credentials.properties"},
    {.name = "rest.connections.max",
     .type = SLUICE_CFG_INT,
     .default_value = "256",
     .flags = SLUICE_CFG_RANGE,
     .description = "Connections the REST listener accepts at once; more are refused until one "
                    "closes.",
     .example = "1024",
     .min = 1,
     .max = 65536},
    {.name = "rest.idle.timeout.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "30s",
     .flags = SLUICE_CFG_RANGE,
     .description = "A REST connection that sends or reads nothing for this long is closed "
                    "(a slow client, an abandoned keep-alive). Whole seconds.",
     .example = "10s",
     .min = 1000,
     .max = 3600000},
    {.name = NULL},
};

/* 9.3e18 lies above INT64_MAX: "no upper bound" for a 64-bit key (the validator and the docs
 * treat bounds beyond ±9e18 as absent). */
/* The pipeline's keys and a sink's overrides share names, types and bounds; only the defaults
 * differ (a sink leaves them unset so that "unset" means "the pipeline's value"). */
#define KEYS_CONVERTER(side, dflt_conv, dflt_schemas, dflt_decimal, dflt_strategy, dflt_register)  \
    {.name = side ".converter",                                                                    \
     .type = SLUICE_CFG_ENUM,                                                                      \
     .default_value = dflt_conv,                                                                   \
     .description = "How record " side "s are encoded in the topic.",                              \
     .example = "json",                                                                            \
     .enum_values = keys_converters},                                                              \
        {.name = side ".converter.schemas.enable",                                                 \
         .type = SLUICE_CFG_BOOL,                                                                  \
         .default_value = dflt_schemas,                                                            \
         .description = "json converter: read and write Kafka Connect's "                          \
                        "`{\"schema\":…,\"payload\":…}` envelope.",                                \
         .example = "false"},                                                                      \
        {.name = side ".converter." side ".subject.name.strategy",                                 \
         .type = SLUICE_CFG_ENUM,                                                                  \
         .default_value = dflt_strategy,                                                           \
         .description = "avro converter: the Schema Registry subject a schema is registered "      \
                        "under: `<topic>-" side "` (TopicNameStrategy), the record's full name "   \
                        "(RecordNameStrategy) or `<topic>-<record name>` "                         \
                        "(TopicRecordNameStrategy). Confluent's class names are accepted.",        \
         .example = "RecordNameStrategy",                                                          \
         .enum_values = keys_subject_strategies},                                                  \
        {.name = side ".converter.auto.register.schemas",                                          \
         .type = SLUICE_CFG_BOOL,                                                                  \
         .default_value = dflt_register,                                                           \
         .description = "avro converter: register new schemas with the Schema Registry; when "     \
                        "false a schema must already be registered under its subject.",            \
         .example = "false"},                                                                      \
    {                                                                                              \
        .name = side ".converter.decimal.format", .type = SLUICE_CFG_ENUM,                         \
        .default_value = dflt_decimal,                                                             \
        .description = "json converter: Decimal values as base64 bytes (`BASE64`) or as JSON "     \
                       "numbers (`NUMERIC`).",                                                     \
        .example = "NUMERIC", .enum_values = keys_decimal_formats                                  \
    }

#define KEYS_ERRORS(dflt_tol, dflt_dlq, dflt_hdrs, dflt_timeout, dflt_delay, dflt_log, dflt_msgs)  \
    {.name = "errors.tolerance",                                                                   \
     .type = SLUICE_CFG_ENUM,                                                                      \
     .default_value = dflt_tol,                                                                    \
     .description = "`none`: a record that fails (conversion, transform, sink) stops the "         \
                    "pipeline. `all`: it is skipped, logged and sent to the dead-letter topic "    \
                    "if one is set.",                                                              \
     .example = "all",                                                                             \
     .enum_values = keys_tolerances},                                                              \
        {.name = "errors.deadletterqueue.topic.name",                                              \
         .type = SLUICE_CFG_STRING,                                                                \
         .default_value = dflt_dlq,                                                                \
         .description = "The topic failed records go to with `errors.tolerance: all`; empty: "     \
                        "none.",                                                                   \
         .example = "orders-dlq"},                                                                 \
        {.name = "errors.deadletterqueue.context.headers.enable",                                  \
         .type = SLUICE_CFG_BOOL,                                                                  \
         .default_value = dflt_hdrs,                                                               \
         .description = "Add Kafka Connect's `__connect.errors.*` headers (stage, plugin, "        \
                        "exception) to dead-letter records.",                                      \
         .example = "true"},                                                                       \
        {.name = "errors.retry.timeout",                                                           \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = dflt_timeout,                                                            \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .description = "How long (ms) a failing operation is retried before it counts as "        \
                        "failed; -1 retries forever, 0 never retries.",                            \
         .example = "300000",                                                                      \
         .min = -1,                                                                                \
         .max = 9.3e18},                                                                           \
        {.name = "errors.retry.delay.max.ms",                                                      \
         .type = SLUICE_CFG_INT,                                                                   \
         .default_value = dflt_delay,                                                              \
         .flags = SLUICE_CFG_RANGE,                                                                \
         .description = "The longest wait (ms) between retries (exponential backoff with "         \
                        "jitter). A source that is not connected (a device unplugged) is polled "  \
                        "again at least every 5 s.",                                               \
         .example = "60000",                                                                       \
         .min = 0,                                                                                 \
         .max = 9.3e18},                                                                           \
        {.name = "errors.log.enable",                                                              \
         .type = SLUICE_CFG_BOOL,                                                                  \
         .default_value = dflt_log,                                                                \
         .description = "Log every failed record (rate-limited).",                                 \
         .example = "true"},                                                                       \
    {                                                                                              \
        .name = "errors.log.include.messages", .type = SLUICE_CFG_BOOL,                            \
        .default_value = dflt_msgs,                                                                \
        .description = "With `errors.log.enable`, include the record's key and value in the "      \
                       "log.",                                                                     \
        .example = "true"                                                                          \
    }

#define KEYS_BATCH(dflt_batch, dflt_flush)                                                         \
    {.name = "batch.max.records",                                                                  \
     .type = SLUICE_CFG_INT,                                                                       \
     .default_value = dflt_batch,                                                                  \
     .flags = SLUICE_CFG_RANGE,                                                                    \
     .description = "The most records handed to a sink or produced by a source in one batch.",     \
     .example = "1000",                                                                            \
     .min = 1,                                                                                     \
     .max = 1000000},                                                                              \
    {                                                                                              \
        .name = "offset.flush.interval.ms", .type = SLUICE_CFG_DURATION,                           \
        .default_value = dflt_flush, .flags = SLUICE_CFG_RANGE,                                    \
        .description = "How often sinks flush and positions commit (a duration: `1000`, "          \
                       "`500ms`, `5s`).",                                                          \
        .example = "5s", .min = 1, .max = 86400000                                                 \
    }

static const char *const keys_restart_policies[] = {"on-failure", "never", NULL};

const struct sluice_config_field config_pipeline_keys[] = {
    {.name = "topic",
     .type = SLUICE_CFG_STRING,
     .description = "The topic between the source and the sinks. Default: the pipeline's `id`.",
     .example = "orders"},
    KEYS_CONVERTER("key", "json", "true", "BASE64", "TopicNameStrategy", "true"),
    KEYS_CONVERTER("value", "json", "true", "BASE64", "TopicNameStrategy", "true"),
    KEYS_ERRORS("none", "", "false", "-1", "60000", "false", "false"),
    {.name = "buffer.memory",
     .type = SLUICE_CFG_SIZE,
     .default_value = "4MiB",
     .flags = SLUICE_CFG_RANGE,
     .description = "The bound of the in-process topic buffer; a source waits when it is full.",
     .example = "16MiB",
     .min = 65536,
     .max = 1073741824},
    {.name = "max.message.bytes",
     .type = SLUICE_CFG_SIZE,
     .default_value = "1048588",
     .flags = SLUICE_CFG_RANGE,
     .description = "The largest key or value, in bytes, the pipeline's converters read or "
                    "write (Kafka's default for its topic config of this name and the broker's "
                    "`message.max.bytes`). A record over it fails at its converter, before its "
                    "bytes are read: a dead letter with `errors.tolerance: all`, else the "
                    "pipeline stops. A key or value nothing reads (a sink that ignores keys) is "
                    "not decoded, so not checked. Raise it with the broker's and the topic's "
                    "limits.",
     .example = "8MiB",
     .min = 1024,
     .max = 1073741824},
    KEYS_BATCH("4096", "1000"),
    {.name = "restart.policy",
     .type = SLUICE_CFG_ENUM,
     .default_value = "on-failure",
     .enum_values = keys_restart_policies,
     .description = "Kafka mode: what the worker does when a task of this pipeline (its source, "
                    "a sink task) fails: `on-failure` restarts it after a backoff that doubles up "
                    "to `restart.backoff.max.ms` (with jitter), `never` leaves it FAILED until "
                    "restarted over the REST API. In-process runs are one batch: a failure ends "
                    "the pipeline there.",
     .example = "never"},
    {.name = "restart.backoff.initial.ms",
     .type = SLUICE_CFG_INT,
     .default_value = "1000",
     .flags = SLUICE_CFG_RANGE,
     .description = "The first wait (ms) before a failed task is restarted.",
     .example = "500",
     .min = 1,
     .max = 86400000},
    {.name = "restart.backoff.max.ms",
     .type = SLUICE_CFG_INT,
     .default_value = "60000",
     .flags = SLUICE_CFG_RANGE,
     .description = "The longest wait (ms) between restarts of a task that keeps failing; a task "
                    "that ran that long without failing starts again from the initial wait.",
     .example = "300000",
     .min = 1,
     .max = 86400000},
    {.name = "topic.creation.enable",
     .type = SLUICE_CFG_BOOL,
     .default_value = "true",
     .description = "Kafka mode: create the pipeline's topic (and dead-letter topics) at start "
                    "when missing. `false`: a missing topic is an error.",
     .example = "false"},
    {.name = "topic.creation.default.partitions",
     .type = SLUICE_CFG_INT,
     .default_value = "-1",
     .flags = SLUICE_CFG_RANGE,
     .description = "Kafka mode: partitions of a topic sluice creates; -1: the broker's default.",
     .example = "6",
     .min = -1,
     .max = 100000},
    {.name = "topic.creation.default.replication.factor",
     .type = SLUICE_CFG_INT,
     .default_value = "-1",
     .flags = SLUICE_CFG_RANGE,
     .description = "Kafka mode: replication factor of a topic sluice creates; -1: the broker's "
                    "default.",
     .example = "3",
     .min = -1,
     .max = 32767},
    {.name = "topic.creation.default.*",
     .type = SLUICE_CFG_MAP,
     .description = "Kafka mode: any other `topic.creation.default.<config>` is a topic config of "
                    "a topic sluice creates (`cleanup.policy`, `retention.ms`, …).",
     .example = "{topic.creation.default.retention.ms: 604800000}"},
    {.name = "producer.override.*",
     .type = SLUICE_CFG_MAP,
     .description = "Kafka mode: librdkafka properties for this pipeline's producer only, over "
                    "the `kafka:` block (`producer.override.linger.ms: 20`).",
     .example = "{producer.override.compression.type: zstd}"},
    {.name = NULL},
};

const struct sluice_config_field config_sink_keys[] = {
    KEYS_CONVERTER("key", NULL, NULL, NULL, NULL, NULL),
    KEYS_CONVERTER("value", NULL, NULL, NULL, NULL, NULL),
    KEYS_ERRORS(NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    KEYS_BATCH(NULL, NULL),
    {.name = "tasks.max",
     .type = SLUICE_CFG_INT,
     .default_value = "1",
     .flags = SLUICE_CFG_RANGE,
     .description = "Kafka mode: consumers (each with its own sink instance) in this sink's "
                    "consumer group `sluice.<pipeline>.<sink>`; the topic's partitions are shared "
                    "among them. In-process there is one partition, hence one task.",
     .example = "3",
     .min = 1,
     .max = 1024},
    {.name = "consumer.override.*",
     .type = SLUICE_CFG_MAP,
     .description = "Kafka mode: librdkafka properties for this sink's consumers only, over the "
                    "`kafka:` block (`consumer.override.auto.offset.reset: latest`; the default "
                    "start position of a new group is `earliest`, as in Kafka Connect).",
     .example = "{consumer.override.auto.offset.reset: latest}"},
    {.name = NULL},
};

/* The entries of the `schema.registry:` map (schema_registry.c checks them; this table says
 * which are secrets, for `lint --print`). Confluent's names. */
const struct sluice_config_field config_registry_keys[] = {
    {.name = "url",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The registry's base url; a comma-separated list tries each in turn. "
                    "Credentials in it (`http://key:secret@host`) are never printed."},
    {.name = "basic.auth.credentials.source",
     .type = SLUICE_CFG_STRING,
     .description = "`USER_INFO` (`basic.auth.user.info`) or `URL` (the url's user info)."},
    {.name = "basic.auth.user.info",
     .type = SLUICE_CFG_STRING,
     .flags = SLUICE_CFG_SECRET,
     .description = "`key:secret` for HTTP basic authentication."},
    {.name = "request.timeout.ms", .type = SLUICE_CFG_INT, .description = "Per request."},
    {.name = "ssl.ca.location", .type = SLUICE_CFG_PATH, .description = "CA bundle for https."},
    {.name = NULL},
};

/* librdkafka marks its secret properties with _RK_SENSITIVE (rdkafka_conf.c) but no public API
 * tells which they are (rd_kafka_conf_dump does not redact): this is the list of librdkafka
 * 2.0.2, plus the OAUTHBEARER secrets that 2.11 marks (client.secret, the assertion's private
 * key), so that a config written for a newer librdkafka is not printed either. Check it when
 * the minimum librdkafka version moves. */
const char *const config_kafka_secret_properties[] = {
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl_key",
    "ssl.ca.pem",
    "ssl.keystore.password",
    NULL};
