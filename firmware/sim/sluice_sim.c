/*
 * sluice-sim: runs a real firmware ELF (firmware/ldr, firmware/ldr_seq) on an emulated ATmega328P
 * (libsimavr), feeds ADC channel 3 (the Uno's A3) from a light profile and exposes the UART as a
 * pseudo-terminal, so the whole light-sensor chain runs without an Arduino.
 *
 * The UART is bridged to the pty here rather than with simavr's uart_pty part: that part runs a
 * thread whose stop hangs (pthread_join) and always makes a symlink at the same place
 * ($TMPDIR/simavr-uart0), so two simulators would fight over it. One thread, non-blocking
 * descriptors, and a stop on SIGTERM/SIGINT between two instructions.
 *
 * Usage: see usage() or docs/firmware.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>
#include <simavr/sim_irq.h>

#define SIM_MCU       "atmega328p"
#define SIM_FREQUENCY 16000000u /* the Uno's crystal */
#define SIM_VCC_MV    5000u     /* AVcc = AREF = 5 V: ADC = mV * 1023 / 5000 */
#define SIM_ADC_IRQ   ADC_IRQ_ADC3
/* Simulated time between two looks at the pty input, the clock and the time limit: 1 ms. */
#define SIM_SLICE_CYCLES (SIM_FREQUENCY / 1000u)

enum profile_kind { PROFILE_CONSTANT, PROFILE_DAYNIGHT, PROFILE_CSV };

struct csv_point {
    double seconds;
    double millivolts;
};

struct profile {
    enum profile_kind kind;
    double constant_mv;
    double min_mv, max_mv, period_s; /* day/night */
    struct csv_point *points;        /* csv, sorted by seconds */
    size_t n_points;
    bool step; /* csv: hold each value until the next row instead of interpolating */
    bool loop; /* csv: start over after the last row */
    double offset_s;
    const char *csv_path;
};

struct sim {
    avr_t *avr;
    struct profile profile;
    int master;
    bool xon; /* the UART receives and its input FIFO has room */
    bool trace;
    unsigned long dropped; /* output bytes the pty had no room for */
    avr_irq_t *adc_irq;
    avr_irq_t *uart_in_irq;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fputs(
        "usage: sluice-sim [options] FIRMWARE.elf\n"
        "Runs an Arduino Uno firmware (ATmega328P, 16 MHz, AVcc 5 V) in simavr, drives A3 from a\n"
        "light profile and exposes the UART as a pseudo-terminal (its path on stdout:\n"
        "'pty: /dev/pts/N').\n"
        "\n"
        "profile (one of; default --constant 2500):\n"
        "  --constant MV            a constant voltage on A3, in millivolts (0..5000)\n"
        "  --daynight MIN:MAX:SECS  a raised cosine from MIN mV (midnight, t=0) to MAX mV (noon,\n"
        "                           t=SECS/2) and back, period SECS seconds of simulated time\n"
        "  --csv FILE               rows 'seconds,millivolts' (sorted by seconds; '#' comments and "
        "a\n"
        "                           header line allowed); linear interpolation between rows, the\n"
        "                           first value before the first row, the last after the last\n"
        "  --step                   csv: hold each row's value until the next row\n"
        "  --loop                   csv: start over after the last row (period = its time)\n"
        "  --offset SECS            the profile's clock starts at SECS (e.g. noon of a day)\n"
        "\n"
        "run:\n"
        "  --speed N                N times real time (default 1); 0 = as fast as possible\n"
        "  --seconds S              stop after S seconds of simulated time (default: run until\n"
        "                           SIGTERM/SIGINT)\n"
        "  --link PATH              also make PATH a symlink to the pty (removed at exit)\n"
        "  --trace                  print every ADC conversion on stderr ('adc T s: MV mV')\n"
        "  -h, --help\n",
        out);
}

/* -- light profiles ------------------------------------------------------------------------- */

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool millivolts_ok(double mv)
{
    return mv >= 0 && mv <= SIM_VCC_MV;
}

static bool profile_parse_daynight(struct profile *p, const char *arg)
{
    char buf[128];
    if (strlen(arg) >= sizeof buf)
        return false;
    strcpy(buf, arg);
    char *second = strchr(buf, ':');
    char *third = second ? strchr(second + 1, ':') : NULL;
    if (!second || !third)
        return false;
    *second++ = '\0';
    *third++ = '\0';
    return parse_double(buf, &p->min_mv) && parse_double(second, &p->max_mv) &&
           parse_double(third, &p->period_s) && millivolts_ok(p->min_mv) &&
           millivolts_ok(p->max_mv) && p->period_s > 0;
}

/* Reads FILE's "seconds,millivolts" rows; prints the reason and returns false on error. */
static bool profile_load_csv(struct profile *p, const char *path)
{
    bool ok = false;
    char line[256];
    size_t cap = 0, lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "sluice-sim: %s: %s\n", path, strerror(errno));
        return false;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line + strspn(line, " \t");
        if (*s == '\0' || *s == '#')
            continue;
        char *comma = strchr(s, ',');
        double t, mv;
        if (comma) {
            *comma = '\0';
            char *v = comma + 1 + strspn(comma + 1, " \t");
            v[strcspn(v, " \t")] = '\0';
            s[strcspn(s, " \t")] = '\0';
            if (parse_double(s, &t) && parse_double(v, &mv))
                goto row;
        }
        if (p->n_points == 0 && lineno == 1)
            continue; /* a header line */
        fprintf(stderr, "sluice-sim: %s:%zu: expected 'seconds,millivolts'\n", path, lineno);
        goto out;
    row:
        if (!millivolts_ok(mv)) {
            fprintf(stderr, "sluice-sim: %s:%zu: %g mV is outside 0..%u\n", path, lineno, mv,
                    SIM_VCC_MV);
            goto out;
        }
        if (t < 0 || (p->n_points > 0 && t < p->points[p->n_points - 1].seconds)) {
            fprintf(stderr, "sluice-sim: %s:%zu: seconds must be >= 0 and never go back\n", path,
                    lineno);
            goto out;
        }
        if (p->n_points == cap) {
            cap = cap ? cap * 2 : 64;
            struct csv_point *grown = realloc(p->points, cap * sizeof *grown);
            if (!grown) {
                fprintf(stderr, "sluice-sim: out of memory\n");
                goto out;
            }
            p->points = grown;
        }
        p->points[p->n_points++] = (struct csv_point){t, mv};
    }
    if (ferror(f)) {
        fprintf(stderr, "sluice-sim: %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (p->n_points == 0) {
        fprintf(stderr, "sluice-sim: %s: no 'seconds,millivolts' row\n", path);
        goto out;
    }
    ok = true;
out:
    fclose(f);
    return ok;
}

static double profile_csv_at(const struct profile *p, double t)
{
    const struct csv_point *pt = p->points;
    size_t n = p->n_points;
    double last = pt[n - 1].seconds;
    if (p->loop && last > 0 && t >= last)
        t = fmod(t, last);
    if (t <= pt[0].seconds)
        return pt[0].millivolts;
    if (t >= last)
        return pt[n - 1].millivolts;
    /* the last row at or before t */
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (pt[mid].seconds <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (p->step || pt[hi].seconds == pt[lo].seconds)
        return pt[lo].millivolts;
    double f = (t - pt[lo].seconds) / (pt[hi].seconds - pt[lo].seconds);
    return pt[lo].millivolts + f * (pt[hi].millivolts - pt[lo].millivolts);
}

/* The profile's voltage at simulated time T seconds, in whole millivolts. */
static uint32_t profile_millivolts(const struct profile *p, double t)
{
    double mv = 0;
    t += p->offset_s;
    switch (p->kind) {
    case PROFILE_CONSTANT:
        mv = p->constant_mv;
        break;
    case PROFILE_DAYNIGHT:
        mv = p->min_mv + (p->max_mv - p->min_mv) * (1 - cos(2 * M_PI * t / p->period_s)) / 2;
        break;
    case PROFILE_CSV:
        mv = profile_csv_at(p, t);
        break;
    }
    mv = round(mv);
    return mv < 0 ? 0 : mv > SIM_VCC_MV ? SIM_VCC_MV : (uint32_t)mv;
}

/* -- simavr hooks ---------------------------------------------------------------------------- */

static double sim_seconds(const avr_t *avr)
{
    return (double)avr->cycle / (double)avr->frequency;
}

/* A conversion is starting: put the profile's present voltage on A3. */
static void sim_adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)value;
    struct sim *s = param;
    double t = sim_seconds(s->avr);
    uint32_t mv = profile_millivolts(&s->profile, t);
    avr_raise_irq(s->adc_irq, mv);
    if (s->trace)
        fprintf(stderr, "adc %.6f s: %u mV\n", t, (unsigned)mv);
}

/* A byte left the UART: it goes to the pty, or is lost when nobody drains the pty, as on a wire. */
static void sim_uart_output(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    struct sim *s = param;
    uint8_t byte = (uint8_t)value;
    ssize_t n;
    do {
        n = write(s->master, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        s->dropped++;
}

static void sim_uart_xon(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)value;
    ((struct sim *)param)->xon = true;
}

static void sim_uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)value;
    ((struct sim *)param)->xon = false;
}

/* simavr's default sleep callback usleeps; the main loop keeps time itself. */
static void sim_sleep(avr_t *avr, avr_cycle_count_t how_long)
{
    (void)avr;
    (void)how_long;
}

/* Bytes written to the pty go to the UART's receiver while its FIFO has room. */
static void sim_feed_input(struct sim *s, uint8_t *pending, size_t *n_pending)
{
    if (*n_pending == 0) {
        ssize_t n = read(s->master, pending, 64);
        if (n > 0)
            *n_pending = (size_t)n;
    }
    size_t used = 0;
    while (used < *n_pending && s->xon)
        avr_raise_irq(s->uart_in_irq, pending[used++]);
    memmove(pending, pending + used, *n_pending - used);
    *n_pending -= used;
}

/* Loads FIRMWARE_PATH into a fresh ATmega328P; prints the reason and returns false on error. */
static bool sim_load(struct sim *s, const char *firmware_path)
{
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (access(firmware_path, R_OK) != 0) {
        fprintf(stderr, "sluice-sim: %s: %s\n", firmware_path, strerror(errno));
        return false;
    }
    if (elf_read_firmware(firmware_path, &fw) != 0) {
        fprintf(stderr, "sluice-sim: %s: not an AVR firmware ELF simavr can load\n", firmware_path);
        return false;
    }
    /* arduino-mk's ELF carries no .mmcu section: the board is fixed here. */
    snprintf(fw.mmcu, sizeof fw.mmcu, "%s", SIM_MCU);
    fw.frequency = SIM_FREQUENCY;
    fw.vcc = fw.avcc = fw.aref = SIM_VCC_MV;
    s->avr = avr_make_mcu_by_name(fw.mmcu);
    if (!s->avr) {
        fprintf(stderr, "sluice-sim: simavr has no %s core\n", fw.mmcu);
        return false;
    }
    avr_init(s->avr);
    avr_load_firmware(s->avr, &fw);
    return true;
}

/* -- the pseudo-terminal --------------------------------------------------------------------- */

/* Opens a pty pair; returns the master and fills SLAVE_PATH. The slave stays open in *SLAVE_FD
 * so that bytes sent before a reader opens it wait there and the master never sees a hangup; it is
 * raw with no echo, so a reader that does not set the terminal up gets exactly the firmware's bytes
 * and what it writes is not sent back to it. */
static int pty_open(char *slave_path, size_t size, int *slave_fd)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, slave_path, size) != 0)
        goto fail;
    int slave = open(slave_path, O_RDWR | O_NOCTTY);
    if (slave < 0)
        goto fail;
    struct termios tio;
    if (tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tio.c_lflag &= ~(ECHO | ECHONL);
        cfsetispeed(&tio, B9600);
        cfsetospeed(&tio, B9600);
        tcsetattr(slave, TCSANOW, &tio);
    }
    int flags = fcntl(master, F_GETFL);
    if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0) {
        close(slave);
        goto fail;
    }
    *slave_fd = slave;
    return master;
fail:
    fprintf(stderr, "sluice-sim: cannot open a pseudo-terminal: %s\n", strerror(errno));
    if (master >= 0)
        close(master);
    return -1;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void describe_profile(const struct profile *p, char *buf, size_t size)
{
    int n = 0;
    switch (p->kind) {
    case PROFILE_CONSTANT:
        n = snprintf(buf, size, "constant %g mV", p->constant_mv);
        break;
    case PROFILE_DAYNIGHT:
        n = snprintf(buf, size, "daynight %g..%g mV over %g s", p->min_mv, p->max_mv, p->period_s);
        break;
    case PROFILE_CSV:
        n = snprintf(buf, size, "csv %s (%zu rows, %s%s)", p->csv_path, p->n_points,
                     p->step ? "step" : "linear", p->loop ? ", looped" : "");
        break;
    }
    if (p->offset_s != 0 && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", from %g s", p->offset_s);
}

int main(int argc, char **argv)
{
    enum {
        OPT_CONSTANT = 256,
        OPT_DAYNIGHT,
        OPT_CSV,
        OPT_STEP,
        OPT_LOOP,
        OPT_OFFSET,
        OPT_SPEED,
        OPT_SECONDS,
        OPT_LINK,
        OPT_TRACE
    };
    static const struct option options[] = {
        {"constant", required_argument, NULL, OPT_CONSTANT},
        {"daynight", required_argument, NULL, OPT_DAYNIGHT},
        {"csv", required_argument, NULL, OPT_CSV},
        {"step", no_argument, NULL, OPT_STEP},
        {"loop", no_argument, NULL, OPT_LOOP},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"speed", required_argument, NULL, OPT_SPEED},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"link", required_argument, NULL, OPT_LINK},
        {"trace", no_argument, NULL, OPT_TRACE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sim s = {.profile = {.kind = PROFILE_CONSTANT, .constant_mv = 2500}, .master = -1};
    double speed = 1, limit_s = -1;
    const char *link_path = NULL;
    int profiles = 0, opt, status = 1, slave = -1;
    bool linked = false;

    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONSTANT:
            profiles++;
            s.profile.kind = PROFILE_CONSTANT;
            if (!parse_double(optarg, &s.profile.constant_mv) ||
                !millivolts_ok(s.profile.constant_mv)) {
                fprintf(stderr, "sluice-sim: --constant wants millivolts 0..%u, not '%s'\n",
                        SIM_VCC_MV, optarg);
                return 2;
            }
            break;
        case OPT_DAYNIGHT:
            profiles++;
            s.profile.kind = PROFILE_DAYNIGHT;
            if (!profile_parse_daynight(&s.profile, optarg)) {
                fprintf(stderr,
                        "sluice-sim: --daynight wants MIN:MAX:SECONDS (mV 0..%u, seconds > 0), "
                        "e.g. 200:4500:86400, not '%s'\n",
                        SIM_VCC_MV, optarg);
                return 2;
            }
            break;
        case OPT_CSV:
            profiles++;
            s.profile.kind = PROFILE_CSV;
            s.profile.csv_path = optarg;
            break;
        case OPT_STEP:
            s.profile.step = true;
            break;
        case OPT_LOOP:
            s.profile.loop = true;
            break;
        case OPT_OFFSET:
            if (!parse_double(optarg, &s.profile.offset_s) || s.profile.offset_s < 0) {
                fprintf(stderr, "sluice-sim: --offset wants seconds >= 0, not '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_SPEED:
            if (!parse_double(optarg, &speed) || speed < 0) {
                fprintf(stderr,
                        "sluice-sim: --speed wants a factor >= 0 (0 = as fast as "
                        "possible), not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_SECONDS:
            if (!parse_double(optarg, &limit_s) || limit_s < 0) {
                fprintf(stderr, "sluice-sim: --seconds wants seconds >= 0, not '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_LINK:
            link_path = optarg;
            break;
        case OPT_TRACE:
            s.trace = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "sluice-sim: %s\n",
                optind == argc ? "which firmware? give its ELF file" : "one firmware only");
        usage(stderr);
        return 2;
    }
    if (profiles > 1) {
        fprintf(stderr, "sluice-sim: one profile only (--constant, --daynight or --csv)\n");
        return 2;
    }
    if ((s.profile.step || s.profile.loop) && s.profile.kind != PROFILE_CSV) {
        fprintf(stderr, "sluice-sim: --step and --loop go with --csv\n");
        return 2;
    }
    if (s.profile.kind == PROFILE_CSV && !profile_load_csv(&s.profile, s.profile.csv_path))
        return 2;
    const char *firmware_path = argv[optind];

    /* Signals first: a stop that arrives while the firmware loads is not lost. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* simavr reports what it loads on stdout, which carries only the pty line: send it to stderr
     * while the firmware loads. */
    fflush(stdout);
    int saved_stdout = dup(STDOUT_FILENO);
    if (saved_stdout >= 0)
        dup2(STDERR_FILENO, STDOUT_FILENO);
    bool loaded = sim_load(&s, firmware_path);
    fflush(stdout);
    if (saved_stdout >= 0) {
        dup2(saved_stdout, STDOUT_FILENO);
        close(saved_stdout);
    }
    if (!loaded)
        goto out;
    s.avr->sleep = sim_sleep;

    char slave_path[PATH_MAX];
    s.master = pty_open(slave_path, sizeof slave_path, &slave);
    if (s.master < 0)
        goto out;
    if (link_path) {
        /* replace a stale link from an earlier run, never a file */
        struct stat st;
        if (lstat(link_path, &st) == 0 && S_ISLNK(st.st_mode))
            unlink(link_path);
        if (symlink(slave_path, link_path) != 0) {
            fprintf(stderr, "sluice-sim: --link %s: %s\n", link_path, strerror(errno));
            goto out;
        }
        linked = true;
    }

    /* The UART: no line dump on simavr's stdout, no usleep when the firmware polls for input. */
    uint32_t uart_flags = 0;
    avr_ioctl(s.avr, AVR_IOCTL_UART_GET_FLAGS('0'), &uart_flags);
    uart_flags &= ~(uint32_t)(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
    avr_ioctl(s.avr, AVR_IOCTL_UART_SET_FLAGS('0'), &uart_flags);
    /* Input waits until the sketch enables the receiver (simavr says XON then): the pty exists
     * before the board boots, and a real UART drops what arrives before Serial.begin(). */
    s.xon = false;
    s.uart_in_irq = avr_io_getirq(s.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(s.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
                            sim_uart_output, &s);
    avr_irq_register_notify(avr_io_getirq(s.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
                            sim_uart_xon, &s);
    avr_irq_register_notify(avr_io_getirq(s.avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
                            sim_uart_xoff, &s);
    s.adc_irq = avr_io_getirq(s.avr, AVR_IOCTL_ADC_GETIRQ, SIM_ADC_IRQ);
    avr_irq_register_notify(avr_io_getirq(s.avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER),
                            sim_adc_trigger, &s);
    avr_raise_irq(s.adc_irq, profile_millivolts(&s.profile, 0));

    char profile_text[PATH_MAX + 64];
    describe_profile(&s.profile, profile_text, sizeof profile_text);
    char speed_text[64], limit_text[64] = "";
    if (speed == 0)
        snprintf(speed_text, sizeof speed_text, "as fast as possible");
    else
        snprintf(speed_text, sizeof speed_text, "%gx real time", speed);
    if (limit_s >= 0)
        snprintf(limit_text, sizeof limit_text, ", for %g s", limit_s);
    fprintf(stderr,
            "sluice-sim: firmware %s on %s at %u MHz; A3 profile: %s; speed %s%s; pty %s%s%s\n",
            firmware_path, SIM_MCU, SIM_FREQUENCY / 1000000u, profile_text, speed_text, limit_text,
            slave_path, linked ? " <- " : "", linked ? link_path : "");
    printf("pty: %s\n", slave_path);
    fflush(stdout);

    uint8_t pending[64];
    size_t n_pending = 0;
    avr_cycle_count_t limit_cycles =
        limit_s >= 0 ? (avr_cycle_count_t)(limit_s * SIM_FREQUENCY) : (avr_cycle_count_t)-1;
    avr_cycle_count_t next_slice = 0;
    double wall_start = wall_seconds();
    status = 0;
    while (!stop_signal) {
        int state = avr_run(s.avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "sluice-sim: the firmware %s at %.6f s\n",
                    state == cpu_Done ? "stopped" : "crashed", sim_seconds(s.avr));
            status = state == cpu_Done ? 0 : 1;
            break;
        }
        if (s.avr->cycle < next_slice)
            continue;
        next_slice = s.avr->cycle + SIM_SLICE_CYCLES;
        if (s.avr->cycle >= limit_cycles)
            break;
        sim_feed_input(&s, pending, &n_pending);
        if (speed > 0) {
            double ahead = sim_seconds(s.avr) / speed - (wall_seconds() - wall_start);
            if (ahead > 0.0005) {
                /* a signal cuts the sleep short */
                struct timespec ts = {.tv_sec = (time_t)ahead,
                                      .tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
    }
    if (stop_signal)
        fprintf(stderr, "sluice-sim: stopped by %s at %.6f s of simulated time\n",
                strsignal(stop_signal), sim_seconds(s.avr));
    else if (limit_s >= 0 && s.avr->cycle >= limit_cycles) {
        /* Closing the master hangs the pty up and drops what the reader has not read yet: give it
         * up to 2 s to drain. The kernel moves written bytes to the slave's input queue from a work
         * queue, so an empty queue counts only when it stays empty for 50 ms. */
        int queued = 0, empty_checks = 0;
        for (int i = 0; i < 200 && empty_checks < 5 && !stop_signal; i++) {
            struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (ioctl(slave, TIOCINQ, &queued) != 0)
                break;
            empty_checks = queued == 0 ? empty_checks + 1 : 0;
        }
        fprintf(stderr, "sluice-sim: %g s of simulated time done\n", limit_s);
    }
    if (s.dropped)
        fprintf(stderr, "sluice-sim: %lu byte(s) lost: nobody read the pty\n", s.dropped);
out:
    if (linked)
        unlink(link_path);
    /* The avr and the firmware image go with the process: simavr's teardown is not needed. */
    fflush(stderr);
    _exit(status);
}
