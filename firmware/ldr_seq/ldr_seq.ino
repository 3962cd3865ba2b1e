/*
 * ldr_seq.ino: the light sensor with a sequence number and a checksum on every reading, so that
 * loss and corruption on the wire are visible to the reader.
 *
 * One line per reading (NMEA style):
 *
 *     $LUZ,<seq>,<adc>*<HH>\r\n
 *
 *   seq  decimal uint32, 0 for the first reading after reset, +1 per reading (wraps at 2^32)
 *   adc  analogRead(A3), decimal 0..1023
 *   HH   two uppercase hex digits: the XOR of every byte between '$' and '*' (exclusive)
 *
 * e.g. "$LUZ,0,511*46\r\n". The first reading is sent at once after reset, then one every PERIOD_MS
 * milliseconds, scheduled on millis() so the period does not drift with the time spent sending.
 *
 * Build-time settings (-D...): PERIOD_MS (default 5000), BAUD (default 9600).
 * Run-time setting: a line "P<ms>\n" (or "\r\n") received on the serial port sets the period to
 * <ms> (PERIOD_MIN_MS..PERIOD_MAX_MS); the next reading is due <ms> after the previous one. Other
 * input is ignored; nothing is echoed, so the output holds readings only.
 */
#include <Arduino.h>
#include <stdlib.h>

#ifndef PERIOD_MS
#define PERIOD_MS 5000UL
#endif
#ifndef BAUD
#define BAUD 9600UL
#endif
#define PERIOD_MIN_MS 10UL
#define PERIOD_MAX_MS 86400000UL /* one day */
#define COMMAND_MAX   12         /* "P86400000" and room to spare */

static const uint8_t sensor_pin = A3;

static uint32_t seq;
static uint32_t period_ms = PERIOD_MS;
static uint32_t last_due; /* millis() at which the previous reading was due */
static bool sent_any;

static char command[COMMAND_MAX + 1];
static uint8_t command_len;
static bool command_overlong;

static char hex_digit(uint8_t v)
{
    return v < 10 ? '0' + v : 'A' + (v - 10);
}

static void send_reading(uint32_t n, int adc)
{
    /* "LUZ,4294967295,1023" is 19 bytes */
    char body[24] = "LUZ,";
    char *p = body + 4;
    ultoa(n, p, 10);
    p += strlen(p);
    *p++ = ',';
    utoa((unsigned)adc, p, 10);
    p += strlen(p);

    uint8_t sum = 0;
    for (const char *c = body; c < p; c++)
        sum ^= (uint8_t)*c;

    char tail[6] = {'*', hex_digit(sum >> 4), hex_digit(sum & 0x0f), '\r', '\n', '\0'};
    Serial.write('$');
    Serial.write((const uint8_t *)body, p - body);
    Serial.write((const uint8_t *)tail, 5);
}

static void run_command(void)
{
    if (command_len < 2 || command[0] != 'P')
        return;
    uint32_t ms = 0;
    for (uint8_t i = 1; i < command_len; i++) {
        if (command[i] < '0' || command[i] > '9' || ms > PERIOD_MAX_MS)
            return;
        ms = ms * 10 + (uint32_t)(command[i] - '0');
    }
    if (ms < PERIOD_MIN_MS || ms > PERIOD_MAX_MS)
        return;
    period_ms = ms;
}

static void read_commands(void)
{
    while (Serial.available() > 0) {
        char c = (char)Serial.read();
        if (c == '\n') {
            if (!command_overlong)
                run_command();
            command_len = 0;
            command_overlong = false;
        } else if (c == '\r') {
            /* tolerated before '\n' */
        } else if (command_len < COMMAND_MAX) {
            command[command_len++] = c;
        } else {
            command_overlong = true;
        }
    }
}

void setup()
{
    Serial.begin(BAUD);
}

void loop()
{
    read_commands();

    uint32_t now = millis();
    if (sent_any && (int32_t)(now - (last_due + period_ms)) < 0)
        return;

    if (!sent_any) {
        last_due = now;
        sent_any = true;
    } else {
        last_due += period_ms;
        /* Behind by more than a period (a shorter period just set, or a slow line): start afresh from
         * now rather than sending a burst of late readings. */
        if ((int32_t)(now - (last_due + period_ms)) >= 0)
            last_due = now;
    }
    send_reading(seq++, analogRead(sensor_pin));
}
