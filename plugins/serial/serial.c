/*
 * serial — read lines from a serial device (a USB-serial Arduino, a pseudo-terminal) as typed
 * records. The seed's light sensor printed `analogRead(A3)` every 5 s at 9600 baud; the improved
 * firmware sends `$LUZ,<seq>,<adc>*<HH>` so that loss and corruption on the wire are visible.
 *
 * The device is opened in poll, never in init (`sluice lint` calls init), in raw mode with
 * O_NONBLOCK and VMIN = VTIME = 0; poll waits with poll(2) on the device and on a wake pipe that
 * `stop` writes to, so a stop interrupts the wait at once and an idle device costs no CPU. A
 * device that goes away (unplugged, a pty whose master closed) makes poll return NOT_CONNECTED
 * until it can be opened again; the bytes of an unfinished line are dropped with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sluice/plugin.h>

#include "serial_parse.h"

#define SERIAL_BATCH_MAX       1000 /* records one poll returns at most */
#define SERIAL_READ_SLACK      4096 /* buffer room beyond the longest line, so reads stay large */
#define SERIAL_NAME_MAX        128  /* longest field name */
#define SERIAL_POS_MAX         64   /* room for the line counter in the position */
#define SERIAL_WHY_MAX         256  /* a reason for a failed record */
#define SERIAL_LOG_PER_MINUTE  10   /* rate of the warnings about bad lines and gaps */
#define SERIAL_LINGER_MULTI_MS 5    /* poll.linger.ms unset, several devices */

/* ---------------------------------------------------------------------------------------------- */
/* Configuration */

static const char *const serial_parities[] = {"none", "even", "odd", NULL};
static const char *const serial_flows[] = {"none", "rtscts", "xonxoff", NULL};
static const char *const serial_terms[] = {"auto", "lf", "crlf", NULL};
static const char *const serial_parsers[] = {"int", "csv", "json", "regex", "firmware", NULL};

enum serial_parser {
    SERIAL_P_INT = 0,
    SERIAL_P_CSV,
    SERIAL_P_JSON,
    SERIAL_P_REGEX,
    SERIAL_P_FIRMWARE,
};

static const struct sluice_config_field serial_config[] = {
    {.name = "device",
     .type = SLUICE_CFG_LIST,
     .flags = SLUICE_CFG_REQUIRED,
     .description = "The serial device to read: a USB-serial adapter, a UART, or a pseudo-terminal "
                    "(a symlink such as /dev/serial/by-id/... is followed at every open); or a "
                    "list of them (a YAML sequence, or paths separated by commas), all with the "
                    "same line settings and parser, read by one thread with one poll(2). Give "
                    "absolute paths.",
     .example = "[/dev/ttyACM0, /dev/ttyACM1]"},
    {.name = "baud",
     .type = SLUICE_CFG_INT,
     .default_value = "9600",
     .description = "Line speed in bits per second: one of the standard termios rates (50, 75, "
                    "110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, "
                    "57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, "
                    "1500000, 2000000, 2500000, 3000000, 3500000, 4000000).",
     .example = "115200"},
    {.name = "data.bits",
     .type = SLUICE_CFG_INT,
     .default_value = "8",
     .flags = SLUICE_CFG_RANGE,
     .min = 5,
     .max = 8,
     .description = "Bits per character.",
     .example = "7"},
    {.name = "parity",
     .type = SLUICE_CFG_ENUM,
     .default_value = "none",
     .description = "Parity bit; with `even` or `odd` the input is checked (INPCK) and a character "
                    "with a parity error reads as NUL, which fails its line.",
     .example = "even",
     .enum_values = serial_parities},
    {.name = "stop.bits",
     .type = SLUICE_CFG_INT,
     .default_value = "1",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 2,
     .description = "Stop bits per character.",
     .example = "2"},
    {.name = "flow.control",
     .type = SLUICE_CFG_ENUM,
     .default_value = "none",
     .description = "`rtscts`: hardware flow control (CRTSCTS); `xonxoff`: software flow control "
                    "(IXON/IXOFF); `none`.",
     .example = "rtscts",
     .enum_values = serial_flows},
    {.name = "line.terminator",
     .type = SLUICE_CFG_ENUM,
     .default_value = "auto",
     .description = "`auto`: a line ends with `\\n` and a `\\r` before it is dropped (Arduino's "
                    "`println` sends `\\r\\n`); `lf`: `\\n` only, a `\\r` stays in the line; "
                    "`crlf`: only `\\r\\n` ends a line.",
     .example = "crlf",
     .enum_values = serial_terms},
    {.name = "max.line.length",
     .type = SLUICE_CFG_SIZE,
     .default_value = "1KiB",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 16777216.0,
     .description = "The longest line, without its terminator. A longer line becomes one failed "
                    "record (its first `max.line.length` bytes) and reading resumes after its "
                    "terminator.",
     .example = "256"},
    {.name = "parser",
     .type = SLUICE_CFG_ENUM,
     .default_value = "int",
     .description = "How a line becomes a value: `int` (a bare integer, as the seed's sketch "
                    "prints), `csv`, `json` (schemaless), `regex`, or `firmware` (the improved "
                    "firmware's checksummed `$LUZ,<seq>,<adc>*<HH>` sentences).",
     .example = "firmware",
     .enum_values = serial_parsers},
    {.name = "field",
     .type = SLUICE_CFG_STRING,
     .default_value = "luz",
     .description = "`int` and `firmware` parsers: the name of the reading's field (int32).",
     .example = "light"},
    {.name = "csv.fields",
     .type = SLUICE_CFG_LIST,
     .description = "`csv` parser (required): the columns in order as `name:type`, type one of "
                    "int32, int64, float64, string, boolean (`name` alone is a string). A line "
                    "with another number of columns, or a column that does not parse as its "
                    "type, fails.",
     .example = "[luz:int32, temp:float64, door:boolean]"},
    {.name = "csv.separator",
     .type = SLUICE_CFG_STRING,
     .default_value = ",",
     .description = "`csv` parser: the one-byte column separator (`\\t` for a tab). Quoting is "
                    "not supported: a separator always separates.",
     .example = ";"},
    {.name = "regex",
     .type = SLUICE_CFG_STRING,
     .description = "`regex` parser (required): a POSIX extended regular expression searched in "
                    "each line (anchor it with `^...$` to match whole lines). POSIX has no named "
                    "groups: `regex.fields` names the groups 1..n in order. A line it does not "
                    "match fails.",
     .example = "^T=([0-9.]+) L=([0-9]+)$"},
    {.name = "regex.fields",
     .type = SLUICE_CFG_LIST,
     .description = "`regex` parser (required): `name:type` for groups 1, 2, ... of `regex` "
                    "(types as in `csv.fields`). A group that did not take part in the match is "
                    "null.",
     .example = "[temp:float64, luz:int32]"},
    {.name = "schema.name",
     .type = SLUICE_CFG_STRING,
     .description = "The name of the value schema (an Avro record name with `value.converter: "
                    "avro`); default `sluice.serial.<parser>`. Not used by the schemaless `json` "
                    "parser.",
     .example = "iot.luz.Reading"},
    {.name = "key.field",
     .type = SLUICE_CFG_STRING,
     .description = "A field of the value to copy into the record key; unset, the key is null.",
     .example = "seq"},
    {.name = "poll.linger.ms",
     .type = SLUICE_CFG_DURATION,
     .flags = SLUICE_CFG_RANGE,
     .min = 0,
     .max = 1000,
     .description = "Once a line is there, how long the source waits for more before it hands "
                    "them to the pipeline as one batch; lines that arrive meanwhile, from any "
                    "device, wait in the kernel's buffers and are read together at the end. It "
                    "trades latency for CPU: each line waits up to this long more, while many "
                    "devices' lines cost one batch (one wake-up of the pipeline's threads) instead "
                    "of one each. Unset: 0 with one device (each line goes out as soon as it is "
                    "read), 5 ms with several.",
     .example = "10ms"},
    {.name = "reconnect.backoff.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "100ms",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 3600000,
     .description = "After the device went away or could not be opened, the wait before the next "
                    "open attempt; it doubles with every failed attempt up to "
                    "`reconnect.backoff.max.ms`. The pipeline's own retry backoff "
                    "(`errors.retry.delay.max.ms`) paces the polls as well: the longer wait wins.",
     .example = "500ms"},
    {.name = "reconnect.backoff.max.ms",
     .type = SLUICE_CFG_DURATION,
     .default_value = "5s",
     .flags = SLUICE_CFG_RANGE,
     .min = 1,
     .max = 3600000,
     .description = "The longest wait between two open attempts.",
     .example = "30s"},
    {.name = NULL},
};

/* ---------------------------------------------------------------------------------------------- */
/* State */

struct serial_field {
    char name[SERIAL_NAME_MAX];
    enum serial_ftype type;
};

/* One device: its descriptor, framing, reconnection and sequence state. */
struct serial_dev {
    char *device;

    int64_t backoff_cur;
    int64_t next_attempt_ms; /* monotonic: no open attempt before */

    int fd; /* the device, -1 while it is not open */

    char *buf;
    size_t cap, start, end; /* unconsumed bytes are buf[start..end) */
    int skipping;           /* dropping the rest of an overlong line */
    int64_t read_ms;        /* wall-clock time of the read that brought the buffered bytes */

    uint64_t lineno; /* lines seen (good, bad, skipped) since the first start */
    char *pos_json;  /* {"device":"…","line": then room for digits and "}" */
    size_t pos_prefix_len;

    int ever_open;        /* the device was open at least once */
    int first_line;       /* no line read since the device was opened */
    int absent_logged;    /* "waiting for the device" said for this outage */
    char last_error[128]; /* why the device went away or the last open failed */
    struct serial_seq seq;
};

struct serial_source {
    const struct sluice_host *host;
    sluice_ctx_t *ctx;

    speed_t speed;
    long baud;
    int data_bits;
    int parity; /* index into serial_parities */
    int stop_bits;
    int flow; /* index into serial_flows */
    enum serial_term term;
    size_t max_line;

    enum serial_parser parser;
    struct serial_field *fields;
    size_t nfields;
    char sep;
    regex_t re;
    int have_re;
    regmatch_t *matches;
    char *scratch;                 /* a NUL-terminated copy of a line for regexec */
    const sluice_schema_t *schema; /* NULL for json (schemaless) */
    char *key_field;

    int64_t backoff_min, backoff_max;
    int64_t linger_ms; /* poll.linger.ms: how long a batch waits for more lines */

    struct serial_dev *devs;
    size_t ndevs;
    struct pollfd *pfds; /* the devices, then the wake pipe */
    size_t *pfd_dev;     /* pfds[i] is devs[pfd_dev[i]] */

    int wake[2]; /* stop writes to wake[1]; poll waits on wake[0] */
    atomic_int stopping;

    int64_t pend_lines, pend_bytes; /* counted in a poll, added to the counters at its end */
};

/* ---------------------------------------------------------------------------------------------- */
/* termios */

static const struct {
    long rate;
    speed_t speed;
} serial_rates[] = {
    {50, B50},           {75, B75},     {110, B110},   {134, B134},     {150, B150},
    {200, B200},         {300, B300},   {600, B600},   {1200, B1200},   {1800, B1800},
    {2400, B2400},       {4800, B4800}, {9600, B9600}, {19200, B19200}, {38400, B38400},
#ifdef B57600
    {57600, B57600},
#endif
#ifdef B115200
    {115200, B115200},
#endif
#ifdef B230400
    {230400, B230400},
#endif
#ifdef B460800
    {460800, B460800},
#endif
#ifdef B500000
    {500000, B500000},
#endif
#ifdef B576000
    {576000, B576000},
#endif
#ifdef B921600
    {921600, B921600},
#endif
#ifdef B1000000
    {1000000, B1000000},
#endif
#ifdef B1152000
    {1152000, B1152000},
#endif
#ifdef B1500000
    {1500000, B1500000},
#endif
#ifdef B2000000
    {2000000, B2000000},
#endif
#ifdef B2500000
    {2500000, B2500000},
#endif
#ifdef B3000000
    {3000000, B3000000},
#endif
#ifdef B3500000
    {3500000, B3500000},
#endif
#ifdef B4000000
    {4000000, B4000000},
#endif
};

static int serial_speed(long rate, speed_t *out)
{
    for (size_t i = 0; i < sizeof serial_rates / sizeof serial_rates[0]; i++) {
        if (serial_rates[i].rate == rate) {
            *out = serial_rates[i].speed;
            return 0;
        }
    }
    return -1;
}

/* Raw mode with the configured line settings. Returns 0 or an errno value. */
static int serial_configure(struct serial_source *s, int fd)
{
    static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};
    struct termios t;

    if (tcgetattr(fd, &t) != 0) {
        return errno;
    }
    cfmakeraw(&t);
    if (cfsetispeed(&t, s->speed) != 0 || cfsetospeed(&t, s->speed) != 0) {
        return errno;
    }
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    t.c_cflag |= sizes[s->data_bits - 5] | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(INPCK | IXON | IXOFF | IXANY);
    if (s->parity != 0) {
        t.c_cflag |= PARENB | (s->parity == 2 ? PARODD : 0);
        t.c_iflag |= INPCK;
    }
    if (s->stop_bits == 2) {
        t.c_cflag |= CSTOPB;
    }
    if (s->flow == 1) {
        t.c_cflag |= CRTSCTS;
    } else if (s->flow == 2) {
        t.c_iflag |= IXON | IXOFF;
    }
    /* Reads never block (O_NONBLOCK as well): poll(2) does the waiting. */
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    /* TCSANOW, not TCSAFLUSH: bytes already queued are data, not noise to drop. */
    if (tcsetattr(fd, TCSANOW, &t) != 0) {
        return errno;
    }
    return 0;
}

/* Errors after which the device may come back: it is not there now. */
static int serial_transient(int e)
{
    return e == ENOENT || e == ENXIO || e == EIO || e == ENODEV || e == EACCES || e == EBUSY ||
           e == EAGAIN || e == EPERM || e == EINTR;
}

/* ---------------------------------------------------------------------------------------------- */
/* init */

static sluice_err_t serial_fields_parse(struct serial_source *s, const sluice_config_t *config,
                                        const char *key, char *errstr, size_t errstr_size)
{
    const struct sluice_host *h = s->host;
    size_t n = h->config_has(config, key) ? h->config_count(config, key) : 0;

    if (n == 0) {
        snprintf(errstr, errstr_size,
                 "'%s' is required with parser: %s (a list of name:type, e.g. "
                 "[luz:int32, temp:float64])",
                 key, serial_parsers[s->parser]);
        return SLUICE_ERR_CONFIG;
    }
    s->fields = calloc(n, sizeof *s->fields);
    if (s->fields == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    s->nfields = n;
    for (size_t i = 0; i < n; i++) {
        char why[SERIAL_WHY_MAX];
        const char *item = h->config_item(config, key, i);

        if (item == NULL || serial_field_spec(item, s->fields[i].name, sizeof s->fields[i].name,
                                              &s->fields[i].type, why, sizeof why) != 0) {
            snprintf(errstr, errstr_size, "'%s' item %zu %s", key, i + 1,
                     item ? why : "is missing");
            return SLUICE_ERR_CONFIG;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(s->fields[k].name, s->fields[i].name) == 0) {
                snprintf(errstr, errstr_size, "'%s' names the field '%s' twice", key,
                         s->fields[i].name);
                return SLUICE_ERR_CONFIG;
            }
        }
    }
    return SLUICE_OK;
}

static sluice_schema_t *serial_field_schema(struct serial_source *s, enum serial_ftype t,
                                            int optional)
{
    static const sluice_type_t types[] = {
        [SERIAL_F_INT32] = SLUICE_TYPE_INT32,     [SERIAL_F_INT64] = SLUICE_TYPE_INT64,
        [SERIAL_F_FLOAT64] = SLUICE_TYPE_FLOAT64, [SERIAL_F_STRING] = SLUICE_TYPE_STRING,
        [SERIAL_F_BOOLEAN] = SLUICE_TYPE_BOOLEAN,
    };
    sluice_schema_t *sc = s->host->schema_new(s->ctx, types[t]);

    if (sc != NULL && optional) {
        s->host->schema_set_optional(sc, 1);
    }
    return sc;
}

/* The value schema: a struct of the fields, built once. */
static sluice_err_t serial_schema_build(struct serial_source *s, const char *name, char *errstr,
                                        size_t errstr_size)
{
    const struct sluice_host *h = s->host;
    sluice_schema_t *st = h->schema_struct(s->ctx, name);

    if (st == NULL) {
        goto nomem;
    }
    for (size_t i = 0; i < s->nfields; i++) {
        sluice_schema_t *f = serial_field_schema(s, s->fields[i].type, s->parser == SERIAL_P_REGEX);

        if (f == NULL || h->schema_add_field(st, s->fields[i].name, f) != SLUICE_OK) {
            goto nomem;
        }
    }
    s->schema = st;
    return SLUICE_OK;
nomem:
    snprintf(errstr, errstr_size, "out of memory while building the value schema");
    return SLUICE_ERR_NOMEM;
}

/* The constant part of a device's position: {"device":"…","line": (digits and '}' follow). */
static sluice_err_t serial_pos_prefix(const struct sluice_host *h, struct serial_dev *d)
{
    sluice_buf_t *b = h->buf_new(32 + strlen(d->device));
    sluice_err_t err = SLUICE_ERR_NOMEM;
    char *p;

    if (b == NULL) {
        goto out;
    }
    h->buf_printf(b, "{\"device\":");
    h->buf_append_json_string(b, d->device, strlen(d->device));
    h->buf_printf(b, ",\"line\":");
    if (h->buf_error(b) != SLUICE_OK) {
        goto out;
    }
    p = malloc(h->buf_len(b) + SERIAL_POS_MAX);
    if (p == NULL) {
        goto out;
    }
    memcpy(p, h->buf_data(b), h->buf_len(b));
    d->pos_json = p;
    d->pos_prefix_len = h->buf_len(b);
    err = SLUICE_OK;
out:
    if (b != NULL) {
        h->buf_free(b);
    }
    return err;
}

static void serial_free(struct serial_source *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        struct serial_dev *d = &s->devs[i];

        if (d->fd >= 0) {
            close(d->fd);
        }
        free(d->pos_json);
        free(d->buf);
        free(d->device);
    }
    free(s->devs);
    free(s->pfds);
    free(s->pfd_dev);
    for (int i = 0; i < 2; i++) {
        if (s->wake[i] >= 0) {
            close(s->wake[i]);
        }
    }
    if (s->have_re) {
        regfree(&s->re);
    }
    free(s->matches);
    free(s->scratch);
    free(s->fields);
    free(s->key_field);
    free(s);
}

static sluice_err_t serial_init(const struct sluice_host *host, sluice_ctx_t *ctx,
                                const sluice_config_t *config, void **state, char *errstr,
                                size_t errstr_size)
{
    struct serial_source *s = calloc(1, sizeof *s);
    sluice_err_t err = SLUICE_OK;
    const char *v;
    char defname[64];

    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    s->host = host;
    s->ctx = ctx;
    s->wake[0] = s->wake[1] = -1;

    s->ndevs = host->config_has(config, "device") ? host->config_count(config, "device") : 0;
    if (s->ndevs == 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "'device' must name the serial device, e.g. /dev/ttyACM0, or a list of them");
        goto out;
    }
    s->devs = calloc(s->ndevs, sizeof *s->devs);
    s->pfds = calloc(s->ndevs + 1, sizeof *s->pfds);
    s->pfd_dev = calloc(s->ndevs + 1, sizeof *s->pfd_dev);
    if (s->devs == NULL || s->pfds == NULL || s->pfd_dev == NULL) {
        err = SLUICE_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        s->devs[i].fd = -1;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        v = host->config_item(config, "device", i);
        if (v == NULL || v[0] == '\0') {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size, "'device' item %zu is empty", i + 1);
            goto out;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(s->devs[k].device, v) == 0) {
                err = SLUICE_ERR_CONFIG;
                snprintf(errstr, errstr_size, "'device' names %s twice", v);
                goto out;
            }
        }
        s->devs[i].device = strdup(v);
        if (s->devs[i].device == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    /* Unset: no lingering with one device (each poll returns what has arrived, as soon as it
     * has), SERIAL_LINGER_MULTI_MS with several (their lines are gathered into one batch). */
    s->linger_ms = host->config_has(config, "poll.linger.ms")
                       ? host->config_duration_ms(config, "poll.linger.ms")
                   : s->ndevs > 1 ? SERIAL_LINGER_MULTI_MS
                                  : 0;
    s->baud = (long)host->config_int(config, "baud");
    if (serial_speed(s->baud, &s->speed) != 0) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "'baud' %ld is not a standard termios rate (e.g. 9600, 19200, 38400, 57600, "
                 "115200, 230400)",
                 s->baud);
        goto out;
    }
    s->data_bits = (int)host->config_int(config, "data.bits");
    s->stop_bits = (int)host->config_int(config, "stop.bits");
    v = host->config_string(config, "parity");
    s->parity = v && strcmp(v, "even") == 0 ? 1 : v && strcmp(v, "odd") == 0 ? 2 : 0;
    v = host->config_string(config, "flow.control");
    s->flow = v && strcmp(v, "rtscts") == 0 ? 1 : v && strcmp(v, "xonxoff") == 0 ? 2 : 0;
    v = host->config_string(config, "line.terminator");
    s->term = v && strcmp(v, "lf") == 0     ? SERIAL_TERM_LF
              : v && strcmp(v, "crlf") == 0 ? SERIAL_TERM_CRLF
                                            : SERIAL_TERM_AUTO;
    s->max_line = (size_t)host->config_size(config, "max.line.length");
    v = host->config_string(config, "parser");
    s->parser = SERIAL_P_INT;
    for (int i = 0; v != NULL && serial_parsers[i] != NULL; i++) {
        if (strcmp(v, serial_parsers[i]) == 0) {
            s->parser = (enum serial_parser)i;
        }
    }
    s->backoff_min = host->config_duration_ms(config, "reconnect.backoff.ms");
    s->backoff_max = host->config_duration_ms(config, "reconnect.backoff.max.ms");
    if (s->backoff_max < s->backoff_min) {
        err = SLUICE_ERR_CONFIG;
        snprintf(errstr, errstr_size,
                 "'reconnect.backoff.max.ms' (%" PRId64 " ms) is shorter than "
                 "'reconnect.backoff.ms' (%" PRId64 " ms)",
                 s->backoff_max, s->backoff_min);
        goto out;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        s->devs[i].backoff_cur = s->backoff_min;
    }

    switch (s->parser) {
    case SERIAL_P_INT:
    case SERIAL_P_FIRMWARE: {
        const char *field = host->config_string(config, "field");
        size_t i = 0;

        if (field == NULL || !serial_valid_name(field, strlen(field)) ||
            strlen(field) >= SERIAL_NAME_MAX ||
            (s->parser == SERIAL_P_FIRMWARE && strcmp(field, "seq") == 0)) {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'field' must be a letter or '_' followed by letters, digits or '_'%s",
                     s->parser == SERIAL_P_FIRMWARE ? ", and not 'seq'" : "");
            goto out;
        }
        s->nfields = s->parser == SERIAL_P_FIRMWARE ? 2 : 1;
        s->fields = calloc(s->nfields, sizeof *s->fields);
        if (s->fields == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
        if (s->parser == SERIAL_P_FIRMWARE) {
            strcpy(s->fields[i].name, "seq");
            s->fields[i++].type = SERIAL_F_INT64;
        }
        snprintf(s->fields[i].name, sizeof s->fields[i].name, "%s", field);
        s->fields[i].type = SERIAL_F_INT32;
        break;
    }
    case SERIAL_P_CSV:
        err = serial_fields_parse(s, config, "csv.fields", errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
        v = host->config_string(config, "csv.separator");
        if (v != NULL && strcmp(v, "\\t") == 0) {
            s->sep = '\t';
        } else if (v != NULL && strlen(v) == 1 && v[0] != '\n' && v[0] != '\r') {
            s->sep = v[0];
        } else {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'csv.separator' must be one byte (or \\t for a tab), not '%s'", v ? v : "");
            goto out;
        }
        break;
    case SERIAL_P_REGEX: {
        int rc;

        v = host->config_has(config, "regex") ? host->config_string(config, "regex") : NULL;
        if (v == NULL || v[0] == '\0') {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'regex' is required with parser: regex (a POSIX extended regular "
                     "expression whose groups regex.fields names)");
            goto out;
        }
        rc = regcomp(&s->re, v, REG_EXTENDED);
        if (rc != 0) {
            char msg[200];

            regerror(rc, &s->re, msg, sizeof msg);
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'regex' is not a valid POSIX extended regular expression: %s", msg);
            goto out;
        }
        s->have_re = 1;
        err = serial_fields_parse(s, config, "regex.fields", errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
        if (s->re.re_nsub < s->nfields) {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'regex.fields' names %zu fields but 'regex' has %zu groups; each field "
                     "takes the group of its position (1, 2, ...)",
                     s->nfields, (size_t)s->re.re_nsub);
            goto out;
        }
        s->matches = calloc(s->re.re_nsub + 1, sizeof *s->matches);
        s->scratch = malloc(s->max_line + 1);
        if (s->matches == NULL || s->scratch == NULL) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
        break;
    }
    case SERIAL_P_JSON:
        break;
    }

    if (s->parser != SERIAL_P_JSON) {
        v = host->config_has(config, "schema.name") ? host->config_string(config, "schema.name")
                                                    : NULL;
        if (v == NULL) {
            snprintf(defname, sizeof defname, "sluice.serial.%s", serial_parsers[s->parser]);
            v = defname;
        } else if (!serial_valid_fullname(v)) {
            err = SLUICE_ERR_CONFIG;
            snprintf(errstr, errstr_size,
                     "'schema.name' '%s' is not a valid record name (names of letters, digits "
                     "and '_' separated by dots, e.g. iot.luz.Reading)",
                     v);
            goto out;
        }
        err = serial_schema_build(s, v, errstr, errstr_size);
        if (err != SLUICE_OK) {
            goto out;
        }
    }
    if (host->config_has(config, "key.field")) {
        v = host->config_string(config, "key.field");
        if (v != NULL && v[0] != '\0') {
            int found = s->parser == SERIAL_P_JSON;

            for (size_t i = 0; i < s->nfields; i++) {
                found |= strcmp(s->fields[i].name, v) == 0;
            }
            if (!found) {
                err = SLUICE_ERR_CONFIG;
                snprintf(errstr, errstr_size, "'key.field' '%s' is not a field of the value", v);
                goto out;
            }
            s->key_field = strdup(v);
        }
    }

    for (size_t i = 0; i < s->ndevs; i++) {
        struct serial_dev *d = &s->devs[i];

        d->cap = s->max_line + 2 + SERIAL_READ_SLACK;
        d->buf = malloc(d->cap);
        if (d->buf == NULL || serial_pos_prefix(host, d) != SLUICE_OK) {
            err = SLUICE_ERR_NOMEM;
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        err = SLUICE_FATAL;
        snprintf(errstr, errstr_size, "cannot create the wake-up pipe: %s", strerror(errno));
        goto out;
    }
    *state = s;
    s = NULL;
out:
    serial_free(s);
    return err;
}

/* ---------------------------------------------------------------------------------------------- */
/* start */

static sluice_err_t serial_start(void *state, const void *resume_from, size_t resume_len,
                                 char *errstr, size_t errstr_size)
{
    struct serial_source *s = state;
    char text[512];
    const char *p;

    (void)errstr;
    (void)errstr_size;
    /* Serial data cannot be replayed: the position only carries the line counter on (of the
     * one device, or of the device the position names: the last record's). */
    if (resume_from != NULL && resume_len > 0 && resume_len < sizeof text) {
        memcpy(text, resume_from, resume_len);
        text[resume_len] = '\0';
        p = strstr(text, "\"line\":");
        for (size_t i = 0; p != NULL && i < s->ndevs; i++) {
            struct serial_dev *d = &s->devs[i];

            if (s->ndevs == 1 || strncmp(text, d->pos_json, d->pos_prefix_len) == 0) {
                d->lineno = strtoull(p + 7, NULL, 10);
            }
        }
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        s->devs[i].next_attempt_ms = 0;
    }
    return SLUICE_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* poll */

/* Adds a record for one line. `bad` non-NULL: the line failed before parsing (overlong). */
static sluice_err_t serial_emit(struct serial_source *s, struct serial_dev *d,
                                sluice_batch_t *batch, const char *line, size_t len,
                                const char *bad, const char *counter, size_t *added, char *errstr,
                                size_t errstr_size);

static void serial_backoff(struct serial_source *s, struct serial_dev *d)
{
    d->next_attempt_ms = s->host->monotonic_ms() + d->backoff_cur;
    d->backoff_cur = d->backoff_cur * 2 > s->backoff_max ? s->backoff_max : d->backoff_cur * 2;
}

static void serial_disconnect(struct serial_source *s, struct serial_dev *d, const char *why)
{
    const struct sluice_host *h = s->host;
    size_t partial = d->skipping ? 0 : d->end - d->start;

    close(d->fd);
    d->fd = -1;
    h->counter_add(s->ctx, "serial.disconnects", 1);
    if (partial > 0) {
        h->counter_add(s->ctx, "serial.lines.partial", 1);
    }
    h->log(s->ctx, SLUICE_LOG_WARN, "%s disconnected (%s)%s; reopening it when it is back",
           d->device, why, partial > 0 ? "; the unfinished line read before it is dropped" : "");
    snprintf(d->last_error, sizeof d->last_error, "disconnected: %.100s", why);
    d->start = d->end = 0;
    d->skipping = 0;
    d->absent_logged = 1;
    d->backoff_cur = s->backoff_min;
    serial_backoff(s, d);
}

/* Opens and configures the device. OK, NOT_CONNECTED (not there now) or FATAL. */
static sluice_err_t serial_open(struct serial_source *s, struct serial_dev *d, char *errstr,
                                size_t errstr_size)
{
    const struct sluice_host *h = s->host;
    int fd;
    int rc;

    if (h->monotonic_ms() < d->next_attempt_ms) {
        snprintf(errstr, errstr_size, "%s is not available (%s); next attempt in %" PRId64 " ms",
                 d->device, d->last_error, d->next_attempt_ms - h->monotonic_ms());
        return SLUICE_NOT_CONNECTED;
    }
    fd = open(d->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    rc = fd < 0 ? errno : serial_configure(s, fd);
    if (rc != 0) {
        if (fd >= 0) {
            close(fd);
        }
        if (rc == ENOTTY || rc == EINVAL) {
            snprintf(errstr, errstr_size, "%s is not a serial device (terminal): %s", d->device,
                     strerror(rc));
            return SLUICE_FATAL;
        }
        if (!serial_transient(rc)) {
            snprintf(errstr, errstr_size, "cannot open %s: %s", d->device, strerror(rc));
            return SLUICE_FATAL;
        }
        if (!d->absent_logged) {
            h->log(s->ctx, SLUICE_LOG_WARN, "cannot open %s (%s); waiting for it", d->device,
                   strerror(rc));
            d->absent_logged = 1;
        }
        serial_backoff(s, d);
        snprintf(d->last_error, sizeof d->last_error, "%s", strerror(rc));
        snprintf(errstr, errstr_size, "cannot open %s: %s", d->device, strerror(rc));
        return SLUICE_NOT_CONNECTED;
    }
    d->fd = fd;
    d->start = d->end = 0;
    d->skipping = 0;
    d->seq.have = 0;
    d->first_line = 1;
    d->backoff_cur = s->backoff_min;
    d->absent_logged = 0;
    h->log(s->ctx, SLUICE_LOG_INFO, "%s %s at %ld baud, %d%c%d, flow control %s",
           d->ever_open ? "reconnected to" : "opened", d->device, s->baud, s->data_bits,
           "NEO"[s->parity], s -> stop_bits, serial_flows[s->flow]);
    if (d->ever_open) {
        h->counter_add(s->ctx, "serial.reconnects", 1);
    }
    d->ever_open = 1;
    return SLUICE_OK;
}

/* Converts one text column to a typed value; NULL with `why` when it does not parse. */
static sluice_value_t *serial_typed(struct serial_source *s, sluice_record_t *rec,
                                    const struct serial_field *f, const char *p, size_t len,
                                    char *why, size_t why_size)
{
    const struct sluice_host *h = s->host;
    int64_t i;
    double d;
    int b;

    switch (f->type) {
    case SERIAL_F_INT32:
        if (serial_parse_int(p, len, INT32_MIN, INT32_MAX, &i) == 0) {
            return h->value_int(rec, SLUICE_TYPE_INT32, i);
        }
        break;
    case SERIAL_F_INT64:
        if (serial_parse_int(p, len, INT64_MIN, INT64_MAX, &i) == 0) {
            return h->value_int(rec, SLUICE_TYPE_INT64, i);
        }
        break;
    case SERIAL_F_FLOAT64:
        if (serial_parse_double(p, len, &d) == 0) {
            return h->value_float(rec, SLUICE_TYPE_FLOAT64, d);
        }
        break;
    case SERIAL_F_BOOLEAN:
        if (serial_parse_bool(p, len, &b) == 0) {
            return h->value_bool(rec, b);
        }
        break;
    case SERIAL_F_STRING:
        if (serial_utf8_valid(p, len)) {
            return h->value_string(rec, p, len);
        }
        snprintf(why, why_size, "field '%s' is not valid UTF-8 text", f->name);
        return NULL;
    }
    snprintf(why, why_size, "field '%s': '%.*s' is not a%s %s", f->name, len > 40 ? 40 : (int)len,
             p, f->type == SERIAL_F_INT32 || f->type == SERIAL_F_INT64 ? "n" : "",
             serial_ftype_name(f->type));
    return NULL;
}

/* The sequence check of the firmware parser: counts and logs gaps and restarts. */
static void serial_seq_check(struct serial_source *s, struct serial_dev *d, int64_t seq)
{
    const struct sluice_host *h = s->host;
    int64_t prev = d->seq.last;
    int64_t lost;

    switch (serial_seq_update(&d->seq, seq, &lost)) {
    case SERIAL_SEQ_FIRST:
    case SERIAL_SEQ_NEXT:
        break;
    case SERIAL_SEQ_GAP:
        h->counter_add(s->ctx, "serial.seq.gaps", 1);
        h->counter_add(s->ctx, "serial.seq.lost", lost);
        h->log_limited(s->ctx, SLUICE_LOG_WARN, "serial.seq.gaps", SERIAL_LOG_PER_MINUTE,
                       "%s: sequence gap: %" PRId64 " after %" PRId64 " (%" PRId64
                       " lines lost or corrupted)",
                       d->device, seq, prev, lost);
        break;
    case SERIAL_SEQ_RESET:
        h->counter_add(s->ctx, "serial.seq.resets", 1);
        h->log_limited(s->ctx, SLUICE_LOG_INFO, "serial.seq.resets", SERIAL_LOG_PER_MINUTE,
                       "%s: the sequence restarted at 0 after %" PRId64 ": the device was reset",
                       d->device, prev);
        break;
    case SERIAL_SEQ_BACK:
        h->counter_add(s->ctx, "serial.seq.resets", 1);
        h->log_limited(s->ctx, SLUICE_LOG_WARN, "serial.seq.resets", SERIAL_LOG_PER_MINUTE,
                       "%s: the sequence went back from %" PRId64 " to %" PRId64
                       " (a restarted device or repeated lines)",
                       d->device, prev, seq);
        break;
    }
}

/* Parses a line into the value of `rec`. NULL with `why` (and `*counter`) when it does not. */
static sluice_value_t *serial_parse(struct serial_source *s, struct serial_dev *d,
                                    sluice_record_t *rec, const char *line, size_t len, char *why,
                                    size_t why_size, const char **counter)
{
    const struct sluice_host *h = s->host;
    sluice_value_t *v = NULL;
    sluice_value_t *f;

    switch (s->parser) {
    case SERIAL_P_INT:
        f = serial_typed(s, rec, &s->fields[0], line, len, why, why_size);
        if (f == NULL) {
            snprintf(why, why_size, "not an int32: '%.*s'", len > 40 ? 40 : (int)len, line);
            *counter = "serial.lines.not.number";
            return NULL;
        }
        v = h->value_struct(rec, s->schema);
        if (v == NULL || h->value_put(rec, v, s->fields[0].name, f) != SLUICE_OK) {
            return NULL;
        }
        return v;
    case SERIAL_P_FIRMWARE: {
        int64_t seq;
        int32_t adc;
        int rc = serial_firmware_parse(line, len, &seq, &adc, why, why_size);

        if (rc != 0) {
            *counter = rc == -2 ? "serial.checksum.errors" : "serial.lines.malformed";
            return NULL;
        }
        serial_seq_check(s, d, seq);
        v = h->value_struct(rec, s->schema);
        if (v == NULL ||
            h->value_put(rec, v, "seq", h->value_int(rec, SLUICE_TYPE_INT64, seq)) != SLUICE_OK ||
            h->value_put(rec, v, s->fields[1].name, h->value_int(rec, SLUICE_TYPE_INT32, adc)) !=
                SLUICE_OK) {
            return NULL;
        }
        return v;
    }
    case SERIAL_P_CSV: {
        const char *p = line;
        const char *end = line + len;
        size_t cols = 1;

        for (const char *q = line; q < end; q++) {
            cols += *q == s->sep;
        }
        if (cols != s->nfields) {
            snprintf(why, why_size, "%zu columns, expected %zu (%s)", cols, s->nfields,
                     s->nfields == 1 ? s->fields[0].name : "csv.fields");
            *counter = "serial.lines.malformed";
            return NULL;
        }
        v = h->value_struct(rec, s->schema);
        if (v == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < s->nfields; i++) {
            const char *q = memchr(p, s->sep, (size_t)(end - p));
            size_t n = q ? (size_t)(q - p) : (size_t)(end - p);

            f = serial_typed(s, rec, &s->fields[i], p, n, why, why_size);
            if (f == NULL) {
                *counter = "serial.lines.malformed";
                return NULL;
            }
            if (h->value_put(rec, v, s->fields[i].name, f) != SLUICE_OK) {
                snprintf(why, why_size, "cannot set field '%s'", s->fields[i].name);
                return NULL;
            }
            p = q ? q + 1 : end;
        }
        return v;
    }
    case SERIAL_P_REGEX:
        if (memchr(line, '\0', len) != NULL) {
            snprintf(why, why_size, "the line holds a NUL byte");
            *counter = "serial.lines.malformed";
            return NULL;
        }
        memcpy(s->scratch, line, len);
        s->scratch[len] = '\0';
        if (regexec(&s->re, s->scratch, s->re.re_nsub + 1, s->matches, 0) != 0) {
            snprintf(why, why_size, "the line does not match 'regex'");
            *counter = "serial.lines.malformed";
            return NULL;
        }
        v = h->value_struct(rec, s->schema);
        if (v == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < s->nfields; i++) {
            regmatch_t *m = &s->matches[i + 1];

            if (m->rm_so < 0) {
                continue; /* the group took no part: the field stays null */
            }
            f = serial_typed(s, rec, &s->fields[i], s->scratch + m->rm_so,
                             (size_t)(m->rm_eo - m->rm_so), why, why_size);
            if (f == NULL) {
                *counter = "serial.lines.malformed";
                return NULL;
            }
            if (h->value_put(rec, v, s->fields[i].name, f) != SLUICE_OK) {
                snprintf(why, why_size, "cannot set field '%s'", s->fields[i].name);
                return NULL;
            }
        }
        return v;
    case SERIAL_P_JSON: {
        char err[SERIAL_WHY_MAX];

        err[0] = '\0';
        v = h->value_parse_json(rec, line, len, err, sizeof err);
        if (v == NULL) {
            snprintf(why, why_size, "not JSON: %s", err[0] ? err : "parse error");
            *counter = "serial.lines.malformed";
        }
        return v;
    }
    }
    return NULL;
}

/* The first line after opening may be the tail of a line the device was sending: one that does
 * not even have the right shape is dropped rather than failed (a pure check, before the record). */
static int serial_first_line_ok(struct serial_source *s, const char *line, size_t len)
{
    char why[SERIAL_WHY_MAX];
    int64_t i;
    int32_t adc;
    size_t cols = 1;

    switch (s->parser) {
    case SERIAL_P_INT:
        return serial_parse_int(line, len, INT32_MIN, INT32_MAX, &i) == 0;
    case SERIAL_P_FIRMWARE:
        return serial_firmware_parse(line, len, &i, &adc, why, sizeof why) != -1;
    case SERIAL_P_CSV:
        for (size_t k = 0; k < len; k++) {
            cols += line[k] == s->sep;
        }
        return cols == s->nfields;
    case SERIAL_P_REGEX:
    case SERIAL_P_JSON:
        break;
    }
    return 1;
}

static sluice_err_t serial_emit(struct serial_source *s, struct serial_dev *d,
                                sluice_batch_t *batch, const char *line, size_t len,
                                const char *bad, const char *counter, size_t *added, char *errstr,
                                size_t errstr_size)
{
    const struct sluice_host *h = s->host;
    sluice_record_t *rec;
    sluice_value_t *v = NULL;
    char why[SERIAL_WHY_MAX];
    char digits[SERIAL_POS_MAX];
    size_t n;

    d->lineno++;
    if (bad == NULL && len == 0) {
        h->counter_add(s->ctx, "serial.lines.empty", 1);
        return SLUICE_OK;
    }
    if (d->first_line) {
        d->first_line = 0;
        if (bad == NULL && !serial_first_line_ok(s, line, len)) {
            h->counter_add(s->ctx, "serial.lines.partial", 1);
            h->log(s->ctx, SLUICE_LOG_INFO,
                   "%s: dropped the first line after opening it, '%.*s', which does not parse: "
                   "the device was in the middle of a line",
                   d->device, len > 40 ? 40 : (int)len, line);
            return SLUICE_OK;
        }
    }
    rec = h->batch_add(batch);
    if (rec == NULL) {
        snprintf(errstr, errstr_size, "out of memory while adding a record");
        return SLUICE_ERR_NOMEM;
    }
    why[0] = '\0';
    if (bad == NULL) {
        v = serial_parse(s, d, rec, line, len, why, sizeof why, &counter);
        if (v == NULL && why[0] == '\0') {
            snprintf(errstr, errstr_size, "out of memory while building a value");
            return SLUICE_ERR_NOMEM;
        }
    } else {
        snprintf(why, sizeof why, "%s", bad);
    }
    if (v == NULL) {
        char reason[SERIAL_WHY_MAX + 128];

        /* The raw line is the value, so that a dead-letter topic keeps it. */
        v = serial_utf8_valid(line, len) ? h->value_string(rec, line, len)
                                         : h->value_bytes(rec, line, len);
        if (v == NULL) {
            snprintf(errstr, errstr_size, "out of memory while adding a record");
            return SLUICE_ERR_NOMEM;
        }
        snprintf(reason, sizeof reason, "%s line %" PRIu64 ": %s", d->device, d->lineno, why);
        h->record_set_value(rec, v);
        h->record_fail(rec, reason);
        h->counter_add(s->ctx, "serial.lines.bad", 1);
        if (counter != NULL) {
            h->counter_add(s->ctx, counter, 1);
        }
        h->log_limited(s->ctx, SLUICE_LOG_WARN, "serial.lines.bad", SERIAL_LOG_PER_MINUTE, "%s",
                       reason);
    } else {
        h->record_set_value(rec, v);
        s->pend_lines++;
        if (s->key_field != NULL) {
            sluice_value_t *k = h->value_get(v, s->key_field);

            if (k != NULL) {
                h->record_set_key(rec, k);
            }
        }
    }
    h->record_set_timestamp(rec, d->read_ms);
    h->record_add_header(rec, "device", d->device, strlen(d->device));
    n = (size_t)snprintf(digits, sizeof digits, "%" PRIu64 "}", d->lineno);
    memcpy(d->pos_json + d->pos_prefix_len, digits, n);
    h->record_set_position(rec, d->pos_json, d->pos_prefix_len + n);
    (*added)++;
    return SLUICE_OK;
}

/* Hands out the complete lines in the buffer, and an overlong unfinished one. */
static sluice_err_t serial_lines(struct serial_source *s, struct serial_dev *d,
                                 sluice_batch_t *batch, size_t *added, char *errstr,
                                 size_t errstr_size)
{
    sluice_err_t err = SLUICE_OK;
    size_t len, used;
    /* A "\r" that may yet become part of the terminator is allowed beyond the limit. */
    size_t limit = s->max_line + (s->term == SERIAL_TERM_LF ? 0 : 1);
    char bad[SERIAL_WHY_MAX];

    while (*added < SERIAL_BATCH_MAX &&
           serial_frame_next(d->buf + d->start, d->end - d->start, s->term, &len, &used)) {
        const char *line = d->buf + d->start;

        d->start += used;
        if (d->skipping) {
            d->skipping = 0; /* the end of an overlong line already reported */
            continue;
        }
        if (len > s->max_line) {
            snprintf(bad, sizeof bad, "the line is %zu bytes long, more than max.line.length (%zu)",
                     len, s->max_line);
            err = serial_emit(s, d, batch, line, s->max_line, bad, "serial.lines.too.long", added,
                              errstr, errstr_size);
        } else {
            err = serial_emit(s, d, batch, line, len, NULL, NULL, added, errstr, errstr_size);
        }
        if (err != SLUICE_OK) {
            return err;
        }
    }
    if (*added >= SERIAL_BATCH_MAX) {
        return SLUICE_OK;
    }
    /* No terminator in what is left. */
    if (d->skipping) {
        /* Keep a trailing "\r" of crlf: it may be the start of the terminator. */
        size_t keep =
            s->term == SERIAL_TERM_CRLF && d->end > d->start && d->buf[d->end - 1] == '\r';

        d->start = d->end - keep;
    } else if (d->end - d->start > limit) {
        snprintf(bad, sizeof bad,
                 "the line is longer than max.line.length (%zu); skipped to its end", s->max_line);
        err = serial_emit(s, d, batch, d->buf + d->start, s->max_line, bad, "serial.lines.too.long",
                          added, errstr, errstr_size);
        if (err != SLUICE_OK) {
            return err;
        }
        d->skipping = 1;
        d->start = d->end;
    }
    if (d->start > 0) {
        memmove(d->buf, d->buf + d->start, d->end - d->start);
        d->end -= d->start;
        d->start = 0;
    }
    return SLUICE_OK;
}

static void serial_drain_wake(struct serial_source *s)
{
    char b[64];

    while (read(s->wake[0], b, sizeof b) > 0) {
    }
}

/* Reads what the poll found on `d`. 1: bytes read (or a retry), 0: nothing after all, -1: the
 * device went away (`why` says how). */
static int serial_read(struct serial_source *s, struct serial_dev *d, short revents, char *why,
                       size_t why_size)
{
    if (revents & POLLIN) {
        ssize_t r = read(d->fd, d->buf + d->end, d->cap - d->end);

        if (r > 0) {
            d->end += (size_t)r;
            d->read_ms = s->host->now_ms();
            s->pend_bytes += r;
            return 1;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 1;
        }
        if (r < 0 || (revents & (POLLHUP | POLLERR))) {
            snprintf(why, why_size, "%s", r < 0 ? strerror(errno) : "hang-up");
            return -1;
        }
        return 0; /* a read of 0 without a hang-up: nothing after all */
    }
    if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
        snprintf(why, why_size, "hang-up");
        return -1;
    }
    return 0;
}

/* Several devices: tries to open those that are missing and due for an attempt. OK when at least
 * one is open, NOT_CONNECTED when none is, FATAL (not a serial device, ...). */
static sluice_err_t serial_open_missing(struct serial_source *s, char *errstr, size_t errstr_size)
{
    int64_t now = s->host->monotonic_ms();
    size_t open = 0;
    struct serial_dev *first = NULL;

    for (size_t i = 0; i < s->ndevs; i++) {
        struct serial_dev *d = &s->devs[i];

        if (d->fd < 0 && now >= d->next_attempt_ms &&
            serial_open(s, d, errstr, errstr_size) == SLUICE_FATAL) {
            return SLUICE_FATAL;
        }
        if (d->fd >= 0) {
            open++;
        } else if (first == NULL) {
            first = d;
        }
    }
    if (open > 0) {
        errstr[0] = '\0';
        return SLUICE_OK;
    }
    snprintf(errstr, errstr_size, "none of the %zu devices is available (%s: %s, ...)", s->ndevs,
             first->device, first->last_error);
    return SLUICE_NOT_CONNECTED;
}

/*
 * One device: waits for bytes, then hands out every complete line there is, as now. Several: one
 * poll(2) over all the open devices and the wake pipe; once a line is there the source lingers
 * `poll.linger.ms` (waiting on the wake pipe only, so that lines gather in the kernel's buffers)
 * and then reads every device that has bytes, so that one batch carries the lines of all devices
 * that arrived in that window. A device that goes away is closed and retried on its own: the
 * others go on, and NOT_CONNECTED comes only when none is open.
 */
static sluice_err_t serial_poll(void *state, sluice_batch_t *batch, int timeout_ms, char *errstr,
                                size_t errstr_size)
{
    struct serial_source *s = state;
    const struct sluice_host *h = s->host;
    sluice_err_t err = SLUICE_OK;
    size_t added = 0;
    int single = s->ndevs == 1;
    int64_t now = h->monotonic_ms();
    int64_t deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
    int64_t linger_end = -1; /* set when the first line of the batch is there */

    if (atomic_load(&s->stopping)) {
        return SLUICE_AGAIN;
    }
    if (single) {
        if (s->devs[0].fd < 0) {
            err = serial_open(s, &s->devs[0], errstr, errstr_size);
        }
    } else {
        err = serial_open_missing(s, errstr, errstr_size);
    }
    if (err != SLUICE_OK) {
        return err;
    }
    for (;;) {
        int64_t next_open = INT64_MAX;
        int npfd = 0;
        int wait;
        int n;
        int got = 0;

        for (size_t i = 0; i < s->ndevs; i++) {
            struct serial_dev *d = &s->devs[i];

            if (d->fd < 0) {
                next_open = d->next_attempt_ms < next_open ? d->next_attempt_ms : next_open;
                continue;
            }
            err = serial_lines(s, d, batch, &added, errstr, errstr_size);
            if (err != SLUICE_OK || added >= SERIAL_BATCH_MAX) {
                goto out;
            }
            s->pfds[npfd] = (struct pollfd){.fd = d->fd, .events = POLLIN};
            s->pfd_dev[npfd++] = i;
        }
        s->pfds[npfd] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        now = h->monotonic_ms();
        if (added > 0 && linger_end < 0) {
            linger_end = now + s->linger_ms;
        }
        if (linger_end >= 0) {
            if (now < linger_end) {
                /* Let more lines arrive; a stop still wakes this wait. */
                struct pollfd w = {.fd = s->wake[0], .events = POLLIN};

                if (poll(&w, 1, (int)(linger_end - now)) > 0) {
                    serial_drain_wake(s);
                }
                if (atomic_load(&s->stopping)) {
                    goto out;
                }
            }
            wait = 0;
        } else {
            int64_t left = deadline - now;

            if (next_open != INT64_MAX && next_open - now < left) {
                left = next_open - now; /* a missing device is due for an attempt */
            }
            wait = left > 0 ? (int)left : 0;
        }
        n = poll(s->pfds, (nfds_t)npfd + 1, wait);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = SLUICE_FATAL;
            snprintf(errstr, errstr_size, "poll on %s failed: %s",
                     single ? s->devs[0].device : "the devices", strerror(errno));
            goto out;
        }
        if (s->pfds[npfd].revents != 0) {
            serial_drain_wake(s);
        }
        if (atomic_load(&s->stopping)) {
            goto out;
        }
        if (n == 0) {
            now = h->monotonic_ms();
            if (linger_end < 0 && next_open <= now && now < deadline) {
                err = serial_open_missing(s, errstr, errstr_size);
                if (err == SLUICE_FATAL) {
                    goto out;
                }
                err = SLUICE_OK;
                continue;
            }
            goto out;
        }
        for (int k = 0; k < npfd; k++) {
            struct serial_dev *d = &s->devs[s->pfd_dev[k]];
            char why[128];
            int rc;

            if (s->pfds[k].revents == 0) {
                continue;
            }
            rc = serial_read(s, d, s->pfds[k].revents, why, sizeof why);
            if (rc < 0) {
                serial_disconnect(s, d, why);
                if (single) {
                    snprintf(errstr, errstr_size, "%s disconnected (%s)", d->device, why);
                    err = SLUICE_NOT_CONNECTED;
                    goto out;
                }
                continue; /* several devices: the others go on */
            }
            got |= rc;
        }
        if (!got) {
            goto out;
        }
    }
out:
    if (s->pend_lines > 0) {
        h->counter_add(s->ctx, "serial.lines", s->pend_lines);
        s->pend_lines = 0;
    }
    if (s->pend_bytes > 0) {
        h->counter_add(s->ctx, "serial.bytes", s->pend_bytes);
        s->pend_bytes = 0;
    }
    if (err == SLUICE_OK && added == 0) {
        err = SLUICE_AGAIN;
        if (!single) {
            size_t open = 0;

            for (size_t i = 0; i < s->ndevs; i++) {
                open += s->devs[i].fd >= 0;
            }
            if (open == 0) {
                snprintf(errstr, errstr_size, "none of the %zu devices is available (%s: %s, ...)",
                         s->ndevs, s->devs[0].device, s->devs[0].last_error);
                err = SLUICE_NOT_CONNECTED;
            }
        }
    }
    return err;
}

static int serial_fd(void *state)
{
    struct serial_source *s = state;

    return s->ndevs == 1 ? s->devs[0].fd : -1;
}

static void serial_stop(void *state)
{
    struct serial_source *s = state;
    ssize_t r;

    /* May run on another thread: set the flag and wake a poll that waits. */
    atomic_store(&s->stopping, 1);
    r = write(s->wake[1], "x", 1);
    (void)r; /* a full pipe already wakes the poll */
}

static void serial_destroy(void *state)
{
    serial_free(state);
}

static const struct sluice_source serial_source = {
    .struct_size = sizeof(struct sluice_source),
    .config = serial_config,
    .init = serial_init,
    .start = serial_start,
    .poll = serial_poll,
    .fd = serial_fd,
    .stop = serial_stop,
    .destroy = serial_destroy,
};

SLUICE_PLUGIN_EXPORT const struct sluice_plugin sluice_plugin = {
    SLUICE_PLUGIN_HEADER,
    .name = "serial",
    .version = "1.0.0",
    .summary = "Read lines from a serial device (Arduino, UART, pseudo-terminal) as typed records",
    .description =
        "Reads text lines from a serial port and turns each into a record with a typed value, "
        "so that `value.converter: avro` works: the value schema (a struct named `schema.name`) "
        "is built once from the configuration. It replaces the seed's Python bridge between the "
        "Arduino light sensor and Kafka.\n"
        "\n"
        "The port is opened in raw mode (cfmakeraw) with `baud`, `data.bits`, `parity`, "
        "`stop.bits` and `flow.control`, non-blocking; the source waits on the descriptor with "
        "poll(2), so an idle sensor costs no CPU and a stop is immediate. Settings apply with "
        "TCSANOW: bytes already queued are read, not flushed.\n"
        "\n"
        "**Parsers.**\n"
        "\n"
        "| `parser` | line | value |\n"
        "|---|---|---|\n"
        "| `int` | `512` (the seed's `Serial.println(analogRead(A3))`) | `{<field>: int32}` |\n"
        "| `firmware` | `$LUZ,41,512*70` | `{seq: int64, <field>: int32}` |\n"
        "| `csv` | `512,21.5,true` | a struct of `csv.fields` |\n"
        "| `regex` | `T=21.5 L=512` | a struct of `regex.fields`, groups 1..n |\n"
        "| `json` | `{\"luz\": 512}` | schemaless (as parsed) |\n"
        "\n"
        "The `firmware` parser reads the improved firmware's sentences, `$LUZ,<seq>,<adc>*<HH>`, "
        "where HH is the XOR of every byte between `$` and `*` as two hex digits. It tracks "
        "`seq`: a jump forward is a gap (counters `serial.seq.gaps` and `serial.seq.lost`, a "
        "rate-limited warning), a return to 0 is a device reset (`serial.seq.resets`, logged, "
        "not a gap; 0 after 4294967295 is the firmware's 32-bit counter wrapping). The first "
        "sentence after the device is (re)opened starts the count afresh. A sentence lost to a "
        "bad checksum also shows as a gap, since its number never arrived intact.\n"
        "\n"
        "**Records.** The timestamp is the time the line's terminator was read, the header "
        "`device` is the device path, the key is null (or the value's `key.field`). The source "
        "position is `{\"device\":…,\"line\":N}`, a line counter: serial data cannot be "
        "replayed, so positions are informational and a restart reads what the device sends "
        "from then on.\n"
        "\n"
        "**Bad lines** — binary garbage, a line longer than `max.line.length`, a bad checksum, a "
        "number that is not one, a line the regex does not match — never stop the source: each "
        "is counted (`serial.lines.bad` and one of `serial.lines.too.long`, "
        "`serial.checksum.errors`, `serial.lines.not.number`, `serial.lines.malformed`), logged "
        "at a limited rate, and handed to the pipeline as a failed record whose value is the raw "
        "line, so `errors.tolerance` and `errors.deadletterqueue.topic.name` decide: with "
        "`errors.tolerance: none` (the default) the first bad line stops the pipeline. After an "
        "overlong line the reader resynchronises at the next terminator. Empty lines are "
        "skipped (`serial.lines.empty`). The first line after the device is opened may be the "
        "tail of a line the device was sending: when it does not have the parser's shape (not "
        "an integer, no `$...*HH` sentence, another number of CSV columns) it is dropped and "
        "counted in `serial.lines.partial` instead of failing.\n"
        "\n"
        "**Unplugging.** When the device goes away (a read fails with EIO or hangs up, or it "
        "cannot be opened: ENOENT, ENXIO, EIO, ...) the source logs it once, drops the "
        "unfinished line, and polls return NOT_CONNECTED: the pipeline backs off (up to "
        "`errors.retry.delay.max.ms`, and never more than 5 s for a source that is not "
        "connected) while the source tries to open the device again every "
        "`reconnect.backoff.ms`, doubling up to `reconnect.backoff.max.ms`. It continues when "
        "the device is back, without a restart of sluice, and logs the reconnection.\n"
        "\n"
        "**Several devices.** `device` may list several devices (same line settings and "
        "parser): one source thread reads them all with one poll(2), each with its own framing, "
        "reconnection, `device` header, position line counter and firmware `seq` check (counters "
        "are the source's totals; logs name the device). With `poll.linger.ms` (5 ms by "
        "default with several devices) the lines of all devices that arrive within that window "
        "go out as one batch, which costs far less CPU than a pipeline per device (see "
        "docs/performance.md) for up to that much more latency. A device that goes away does "
        "not stop the others: it is closed and retried on its own while the others' records "
        "flow, and polls return NOT_CONNECTED only while none of the devices is open.\n"
        "\n"
        "The seed's sensor, bare integers at 9600 baud:\n"
        "\n"
        "```yaml\n"
        "pipelines:\n"
        "  - id: iotluzdatos\n"
        "    topic: iotluzdatos\n"
        "    value.converter: json\n"
        "    source:\n"
        "      plugin: serial\n"
        "      config: {device: /dev/ttyACM0, baud: 9600, parser: int, field: luz}\n"
        "    sinks:\n"
        "      - {id: screen, plugin: console}\n"
        "```\n"
        "\n"
        "The improved firmware with Avro, bad sentences into a dead-letter topic:\n"
        "\n"
        "```yaml\n"
        "pipelines:\n"
        "  - id: luz\n"
        "    topic: iotluzdatos\n"
        "    value.converter: avro              # with a schema.registry: block in the file\n"
        "    errors.tolerance: all\n"
        "    errors.deadletterqueue.topic.name: iotluzdatos-dlq\n"
        "    errors.deadletterqueue.context.headers.enable: true\n"
        "    errors.retry.delay.max.ms: 2000   # notice a replugged sensor within ~2 s (5 s by "
        "default)\n"
        "    source:\n"
        "      plugin: serial\n"
        "      config:\n"
        "        device: /dev/serial/by-id/usb-Arduino_Uno-if00\n"
        "        baud: 115200\n"
        "        parser: firmware\n"
        "        schema.name: iot.luz.Reading\n"
        "```\n"
        "\n"
        "CSV and regular expressions:\n"
        "\n"
        "```yaml\n"
        "      config:\n"
        "        device: /dev/ttyUSB0\n"
        "        parser: csv\n"
        "        csv.fields: [luz:int32, temp:float64, door:boolean]\n"
        "---\n"
        "      config:\n"
        "        device: /dev/ttyUSB0\n"
        "        parser: regex\n"
        "        regex: '^T=([-0-9.]+) L=([0-9]+)$'\n"
        "        regex.fields: [temp:float64, luz:int32]\n"
        "```",
    .source = &serial_source,
};
