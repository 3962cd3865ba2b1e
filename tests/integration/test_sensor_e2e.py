"""The light sensor end to end (issue 6): the real firmware (firmware/ldr_seq, ldr_seq_fast and the
seed's ldr) runs on an emulated ATmega328P in sluice-sim with a light profile on A3; sluice's
`serial` source reads the simulator's pty (through sluice-sim's --link symlink) into an in-process
`file` sink, or into a real Kafka topic read back with confluent-kafka. The readings must be the
profile's voltage through the ADC, floor(mV × 1023 / 5000), conversion by conversion (sluice-sim's
--trace lists every conversion with its simulated time and voltage, and that voltage is checked
against the profile function), with no sequence number missing; records carry the `device` header
and a timestamp.

sluice is started first (the device does not exist yet: it waits), then the simulator with
--speed 0 (as fast as simavr goes) and --seconds: the firmware's bytes wait in the pty until sluice
opens it, and the simulator's exit is a disconnect sluice logs. Every wait is bounded; the
simulators and sluice are killed at the end of each test whatever happened.

The tools (gcc-avr, arduino-mk, libsimavr) come from scripts/test (deps group `firmware`): a build
without the simulator or the firmware fails here rather than skipping."""
import json
import math
import os
import re
import signal
import subprocess
import time

import pytest

from sluicetest import scaled, wait_exit, wait_until, write_yaml

VCC_MV = 5000


def adc_of(mv):
    return int(mv) * 1023 // VCC_MV


def daynight(lo, hi, period):
    def profile(t):
        return lo + (hi - lo) * (1 - math.cos(2 * math.pi * t / period)) / 2
    return profile


def csv_profile(rows, step=False):
    def profile(t):
        if t <= rows[0][0]:
            return rows[0][1]
        if t >= rows[-1][0]:
            return rows[-1][1]
        i = max(k for k, (rt, _) in enumerate(rows) if rt <= t)
        (t0, v0), (t1, v1) = rows[i], rows[i + 1]
        return v0 if step or t1 == t0 else v0 + (t - t0) / (t1 - t0) * (v1 - v0)
    return profile


@pytest.fixture(scope="session")
def fw(build):
    d = build / "firmware"
    sim = d / "sluice-sim"
    assert sim.is_file() and os.access(sim, os.X_OK), \
        f"{sim} is not built: meson builds it when libsimavr-dev and libelf-dev are installed " \
        "(scripts/lib/deps.sh group firmware; scripts/test installs them)"
    for name in ("ldr", "ldr_seq", "ldr_seq_fast"):
        assert (d / f"{name}.elf").is_file(), \
            f"{d / name}.elf is not built: meson builds it when gcc-avr, avr-libc, " \
            "arduino-core-avr and arduino-mk are installed (scripts/lib/deps.sh group firmware; " \
            "scripts/test installs them)"
    return d


class Sim:
    """sluice-sim running FIRMWARE.elf with --trace, its pty linked at `link`."""

    def __init__(self, fw, tmp, firmware, link, *args):
        self.stderr_path = tmp / f"sim-{firmware}.stderr"
        self.stderr = open(self.stderr_path, "wb")
        self.argv = [str(fw / "sluice-sim"), "--trace", "--link", str(link), *map(str, args),
                     str(fw / f"{firmware}.elf")]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)

    def log(self):
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout):
        rc = wait_exit(self.proc, timeout)
        assert rc == 0, f"sluice-sim exited {rc}: {self.log()[-2000:]}"

    def trace(self):
        """(seconds, millivolts) of every ADC conversion (--trace)."""
        return [(float(m.group(1)), int(m.group(2)))
                for m in re.finditer(r"^adc (\S+) s: (\d+) mV$", self.log(), re.M)]

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


class Run:
    """`sluice run` in the background, stdout and stderr into files."""

    def __init__(self, sluice, tmp, cfg):
        self.tmp = tmp
        self.out = open(tmp / "stdout.txt", "wb")
        self.err = open(tmp / "stderr.txt", "wb")
        self.proc = sluice.spawn("run", cfg, stdout=self.out, stderr=self.err)

    def stderr(self):
        return (self.tmp / "stderr.txt").read_text(errors="replace")

    def stdout_json(self):
        text = (self.tmp / "stdout.txt").read_text(errors="replace")
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    def wait_log(self, needle, timeout):
        def seen():
            if needle in self.stderr():
                return True
            assert self.proc.poll() is None, \
                f"sluice exited ({self.proc.returncode}) before logging {needle!r}:\n" \
                f"{self.stderr()[-3000:]}"
            return False
        wait_until(seen, timeout, interval=0.05, what=f"{needle!r} in sluice's log")

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(self.proc, timeout)
        self.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.close()

    def close(self):
        for f in (self.out, self.err):
            if not f.closed:
                f.close()


@pytest.fixture
def procs():
    """Everything a test starts (Sim, Run): killed at its end, whatever happened."""
    started = []
    yield started
    for p in reversed(started):
        if isinstance(p, Run):
            p.kill()
        else:
            p.close()


def pipeline_yaml(tmp, device, source_cfg, *, kafka=None, topic="luz"):
    """One pipeline: serial source → file sink (out.txt) and console sink (headers, timestamp:
    stdout.txt); with `kafka` (bootstrap servers) a Kafka-mode, source-only pipeline into `topic`."""
    cfg = ", ".join(f"{k}: {v}" for k, v in source_cfg.items())
    if kafka:
        top = f"kafka:\n  bootstrap.servers: {kafka}\n"
        sinks = ""
        extra = "    value.converter.schemas.enable: false\n    producer.override.linger.ms: 5\n"
    else:
        top = ""
        extra = ""
        sinks = f"""    sinks:
      - id: out
        plugin: file
        config: {{file: {tmp}/out.txt}}
      - id: screen
        plugin: console
        config: {{print.headers: true, print.metadata: true}}
"""
    return write_yaml(tmp / "p.yaml", f"""version: 1
{top}offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: sensor
    topic: {topic}
    value.converter: json
    errors.retry.delay.max.ms: 200
{extra}    source:
      plugin: serial
      config: {{device: {device}, reconnect.backoff.ms: 20ms, reconnect.backoff.max.ms: 100ms, {cfg}}}
{sinks}""")


def run_chain(sluice, fw, tmp, procs, firmware, sim_args, source_cfg, sim_timeout, **kw):
    """sluice first (waiting for the device), then the simulator until its --seconds are over;
    returns (Run, Sim, t_before_ms, t_after_ms) once sluice has seen the pty hang up and stopped."""
    dev = tmp / "arduino"
    r = Run(sluice, tmp, pipeline_yaml(tmp, dev, source_cfg, **kw))
    procs.append(r)
    r.wait_log("waiting for it", 20)  # the device is not there yet
    before = int(time.time() * 1000)
    s = Sim(fw, tmp, firmware, dev, "--speed", 0, *sim_args)
    procs.append(s)
    s.wait(sim_timeout)
    r.wait_log("disconnected", 15)
    time.sleep(scaled(0.3))  # the last records through the sinks
    after = int(time.time() * 1000)
    rc = r.stop()
    assert rc == 0, f"sluice exited {rc}:\n{r.stderr()[-3000:]}"
    err = r.stderr()
    assert f"opened {dev}" in err, err[-3000:]
    for bad in ("serial.seq.gaps", "serial.lines.bad", "serial.lines.partial",
                "serial.checksum.errors"):
        assert bad not in err, f"{bad} in sluice's log:\n{err[-3000:]}"
    return r, s, before, after


def check_readings(got, trace, profile, first_seq=0):
    """got: values {seq, luz}; each reading is the ADC of its conversion's voltage, which is the
    profile's at that simulated time; seq consecutive from first_seq, none missing."""
    assert len(got) == len(trace), \
        f"{len(got)} records for {len(trace)} ADC conversions of the simulator"
    seqs = [g["seq"] for g in got]
    if seqs != list(range(first_seq, first_seq + len(got))):
        missing = sorted(set(range(first_seq, first_seq + len(got))) - set(seqs))
        raise AssertionError(f"sequence numbers not consecutive: missing {missing[:20]}, "
                             f"got {seqs[:10]}...{seqs[-10:]}")
    for g, (t, mv) in zip(got, trace):
        assert abs(mv - profile(t)) <= 1, f"at {t} s the simulator put {mv} mV, profile " \
            f"{profile(t):.1f}"
        assert g["luz"] == adc_of(mv), f"seq {g['seq']} at {t} s: luz {g['luz']}, " \
            f"{mv} mV → {adc_of(mv)}"


def check_records(r, dev, before, after, n):
    """The console sink's view: `device` header and a read-time timestamp on every record."""
    shown = r.stdout_json()
    assert len(shown) == n, f"console sink printed {len(shown)} records, file sink {n}"
    stamps = [rec["timestamp"] for rec in shown]
    for rec in shown:
        assert rec["headers"]["device"] == str(dev), rec
        assert before <= rec["timestamp"] <= after, (before, rec, after)
    assert stamps == sorted(stamps), "timestamps go back"
    return shown


def out_values(tmp):
    text = (tmp / "out.txt").read_text() if (tmp / "out.txt").exists() else ""
    return [json.loads(x) for x in text.splitlines() if x.strip()]


# -- firmware → serial → in-process file sink -----------------------------------------------------

def test_fast_firmware_constant_light(sluice, fw, tmp, procs):
    """ldr_seq_fast (100 readings/s, 115200 baud) at a constant 3300 mV for 2 s: 201 readings,
    seq 0..200, every one 3300 × 1023 / 5000 = 675."""
    r, s, before, after = run_chain(sluice, fw, tmp, procs, "ldr_seq_fast",
                                    ["--constant", 3300, "--seconds", 2.005],
                                    {"parser": "firmware", "baud": 115200}, 60)
    got = out_values(tmp)
    assert len(got) == 201, f"{len(got)} readings from 2 s at 100/s (expected 201)"
    check_readings(got, s.trace(), lambda t: 3300)
    assert {g["luz"] for g in got} == {675}
    shown = check_records(r, tmp / "arduino", before, after, len(got))
    assert [x["value"] for x in shown] == got
    assert "counter serial.lines: 201" in r.stderr()


def test_fast_firmware_daynight(sluice, fw, tmp, procs):
    """A day of 2 simulated seconds from 100 to 4900 mV: 251 readings over 2.5 s that follow the
    raised cosine, dark at midnight, bright at noon."""
    lo, hi, period = 100, 4900, 2.0
    r, s, before, after = run_chain(sluice, fw, tmp, procs, "ldr_seq_fast",
                                    ["--daynight", f"{lo}:{hi}:{period}", "--seconds", 2.505],
                                    {"parser": "firmware", "baud": 115200}, 60)
    got = out_values(tmp)
    assert len(got) == 251, f"{len(got)} readings from 2.5 s at 100/s (expected 251)"
    trace = s.trace()
    check_readings(got, trace, daynight(lo, hi, period))
    assert got[0]["luz"] == adc_of(lo)
    noon = max(range(len(got)), key=lambda i: got[i]["luz"])
    assert got[noon]["luz"] >= adc_of(hi) - 1 and abs(trace[noon][0] - 1.0) < 0.02
    check_records(r, tmp / "arduino", before, after, len(got))


def test_fast_firmware_csv_trace(sluice, fw, tmp, procs):
    """A CSV trace of millivolts (interpolated): the readings ramp with it."""
    rows = [(0.2, 0.0), (0.7, 5000.0), (1.0, 2000.0), (1.2, 2000.0), (1.3, 3500.0)]
    csv = tmp / "light.csv"
    csv.write_text("seconds,millivolts\n# dawn\n" + "".join(f"{t},{mv}\n" for t, mv in rows))
    r, s, before, after = run_chain(sluice, fw, tmp, procs, "ldr_seq_fast",
                                    ["--csv", csv, "--seconds", 1.505],
                                    {"parser": "firmware", "baud": 115200}, 60)
    got = out_values(tmp)
    assert len(got) == 151, f"{len(got)} readings from 1.5 s at 100/s (expected 151)"
    trace = s.trace()
    check_readings(got, trace, csv_profile(rows))
    ramp = [g["luz"] for g, (t, _) in zip(got, trace) if 0.2 < t < 0.7]
    assert ramp == sorted(ramp) and len(set(ramp)) > 40
    assert {g["luz"] for g, (t, _) in zip(got, trace) if t > 1.3} == {adc_of(3500)}
    check_records(r, tmp / "arduino", before, after, len(got))


def test_seq_firmware_default_period(sluice, fw, tmp, procs):
    """ldr_seq as flashed (a reading every 5 s, 9600 baud), a step profile: readings at 0, 5,
    10 s of simulated time see 1000, 2500 and 4990 mV."""
    rows = [(0.0, 1000.0), (4.0, 2500.0), (8.0, 4990.0)]
    csv = tmp / "steps.csv"
    csv.write_text("".join(f"{t},{mv}\n" for t, mv in rows))
    r, s, before, after = run_chain(sluice, fw, tmp, procs, "ldr_seq",
                                    ["--csv", csv, "--step", "--seconds", 10.5],
                                    {"parser": "firmware", "baud": 9600}, 90)
    got = out_values(tmp)
    check_readings(got, s.trace(), csv_profile(rows, step=True))
    assert [g["luz"] for g in got] == [204, 511, 1020]
    check_records(r, tmp / "arduino", before, after, len(got))


def test_seed_firmware_with_the_int_parser(sluice, fw, tmp, procs):
    """The seed's sketch (bare reading, every 5 s, 9600 baud) with `parser: int`, as the seed's
    Python bridge read it: one record per reading, the ADC of the step profile's voltage."""
    rows = [(0.0, 2500.0), (3.0, 3300.0), (7.0, 0.0)]
    csv = tmp / "steps.csv"
    csv.write_text("".join(f"{t},{mv}\n" for t, mv in rows))
    r, s, before, after = run_chain(sluice, fw, tmp, procs, "ldr",
                                    ["--csv", csv, "--step", "--seconds", 10.5],
                                    {"parser": "int", "field": "luz", "baud": 9600}, 90)
    got = out_values(tmp)
    trace = s.trace()
    assert len(got) == len(trace) == 3, (got, trace)
    profile = csv_profile(rows, step=True)
    for g, (t, mv) in zip(got, trace):
        assert abs(mv - profile(t)) <= 1 and g == {"luz": adc_of(mv)}, (g, t, mv)
    assert [g["luz"] for g in got] == [511, 675, 0]
    check_records(r, tmp / "arduino", before, after, len(got))


# -- firmware → serial → a real Kafka topic -------------------------------------------------------

@pytest.mark.parametrize("profile", ["daynight", "constant"])
def test_fast_firmware_into_kafka(sluice, fw, tmp, procs, kafka, profile):
    """Kafka mode: the readings go into a real topic (one partition); read back with
    confluent-kafka, every sequence number is there once and in order, the values follow the
    profile, and each message has the `device` header and the read time as its timestamp."""
    from kafkatest import consume, create_topic, uniq
    topic = uniq("luz")
    create_topic(kafka.bootstrap, topic, partitions=1)
    if profile == "daynight":
        args, ref = ["--daynight", "200:4800:3", "--seconds", 3.005], daynight(200, 4800, 3)
    else:
        args, ref = ["--constant", 1000, "--seconds", 3.005], (lambda t: 1000)
    r, s, before, after = run_chain(sluice, fw, tmp, procs, "ldr_seq_fast", args,
                                    {"parser": "firmware", "baud": 115200}, 60,
                                    kafka=kafka.bootstrap, topic=topic)
    msgs = consume(kafka.bootstrap, topic, n=301, timeout=60)
    assert len(msgs) == 301, f"{len(msgs)} messages in {topic}, expected 301 (3 s at 100/s)"
    # nothing more comes
    assert len(consume(kafka.bootstrap, topic, timeout=30)) == 301
    got = [json.loads(m.value) for m in msgs]
    assert [m.offset for m in msgs] == list(range(301))
    check_readings(got, s.trace(), ref)
    if profile == "constant":
        assert {g["luz"] for g in got} == {204}
    dev = str(tmp / "arduino").encode()
    stamps = []
    for m in msgs:
        assert m.key is None, m
        assert ("device", dev) in m.headers, m.headers
        assert m.timestamp is not None and before <= m.timestamp <= after, (before, m, after)
        stamps.append(m.timestamp)
    assert stamps == sorted(stamps), "timestamps go back"
