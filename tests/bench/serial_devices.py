#!/usr/bin/env python3
"""Simulated serial sensors for tests/bench/serial_bench.py: N pseudo-terminal pairs, each carrying
lines at a fixed rate on an accurate schedule (absolute due times, staggered across devices, never
drifting with the time spent writing).

    serial_devices.py --dir D --devices 32 --rate 100 --seconds 40 --format firmware|csv

It opens the pairs, makes D/dev00 .. D/devNN symlinks to the slaves (raw, no echo), prints
`ready` on stdout and waits for a line on stdin (the benchmark starts sluice meanwhile), then writes
for --seconds and prints one JSON line of totals: lines sent per device, late writes, the worst
lateness. Line formats:

    firmware: $LUZ,<seq>,<adc>*<HH>\\r\\n    the improved firmware's sentence, valid checksum
    csv:      <seq>,<adc>,<sent_us>\\r\\n    sent_us = CLOCK_REALTIME in µs taken just before write()

seq counts from 0 per device, consecutive; adc = floor(mV × 1023 / 5000) of a slow per-device
ramp. A write that would block (nobody reading, buffer full) drops the line and counts it."""
import argparse
import json
import os
import sys
import termios
import time
import tty


def sentence(seq, adc):
    body = f"LUZ,{seq},{adc}".encode()
    x = 0
    for b in body:
        x ^= b
    return b"$" + body + b"*%02X\r\n" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--devices", type=int, default=32)
    ap.add_argument("--rate", type=float, default=100.0, help="lines per second per device")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--format", choices=("firmware", "csv"), default="csv")
    a = ap.parse_args()

    pairs = []
    for i in range(a.devices):
        m, s = os.openpty()
        tty.setraw(s, termios.TCSANOW)
        os.set_blocking(m, False)
        link = os.path.join(a.dir, f"dev{i:02d}")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(s), link)
        pairs.append((m, s, link))
    print("ready", flush=True)
    sys.stdin.readline()

    period_ns = int(1e9 / a.rate)
    n = a.devices
    sent = [0] * n
    dropped = [0] * n
    late = 0
    worst_late_us = 0
    csv = a.format == "csv"
    t0 = time.monotonic_ns() + 50_000_000
    end = t0 + int(a.seconds * 1e9)
    # event k: device k % n, its (k // n)-th line, due at t0 + k * period / n
    k = 0
    step = period_ns / n
    while True:
        due = t0 + int(k * step)
        if due >= end:
            break
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        else:
            lag = (now - due) // 1000
            if lag > 1000:
                late += 1
            worst_late_us = max(worst_late_us, lag)
        d = k % n
        seq = k // n
        adc = ((seq // 10) + 37 * d) % 1024
        if csv:
            line = b"%d,%d,%d\r\n" % (seq, adc, time.time_ns() // 1000)
        else:
            line = sentence(seq, adc)
        try:
            w = os.write(pairs[d][0], line)
            if w == len(line):
                sent[d] += 1
            else:
                dropped[d] += 1
        except BlockingIOError:
            dropped[d] += 1
        k += 1
    # let the reader take what is queued before the pairs close
    time.sleep(1.0)
    print(json.dumps({"sent": sent, "dropped": dropped, "late_over_1ms": late,
                      "worst_late_us": worst_late_us,
                      "seconds": (time.monotonic_ns() - t0) / 1e9 - 1.0}), flush=True)
    sys.stdin.readline()  # the benchmark says when sluice has stopped: then close the pairs
    for m, s, link in pairs:
        os.close(m)
        os.close(s)
        os.unlink(link)


if __name__ == "__main__":
    main()
