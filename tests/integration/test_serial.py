"""The serial source over pseudo-terminal pairs: the test writes into the master, sluice opens the
slave by its path (through a symlink in tmp, so a test can re-point it to a new pair as if the
device had been unplugged and plugged back). Pipelines run in-process (no Kafka) into file and
console sinks. Every wait is bounded."""
import json
import os
import signal
import subprocess
import termios
import time
import tty

import pytest

from sluicetest import scaled, wait_exit, wait_until, write_yaml


class Pty:
    """A pseudo-terminal pair; `link` (a symlink) is pointed at its slave."""

    def __init__(self, link=None):
        self.master, self.slave = os.openpty()
        # Raw before sluice opens it: no echo into the master, no line editing of what we write.
        tty.setraw(self.slave, termios.TCSANOW)
        self.path = os.ttyname(self.slave)
        if link is not None:
            tmp_link = f"{link}.new"
            if os.path.lexists(tmp_link):
                os.unlink(tmp_link)
            os.symlink(self.path, tmp_link)
            os.replace(tmp_link, link)

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def checksum_line(seq, adc, corrupt=False):
    body = f"LUZ,{seq},{adc}"
    x = 0
    for ch in body.encode():
        x ^= ch
    if corrupt:
        x ^= 0x5A
    return f"${body}*{x:02X}\n"


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return data.decode(errors="replace").splitlines()


def json_lines(path):
    return [json.loads(x) for x in read_lines(path) if x.strip()]


def source_yaml(tmp, device, config, *, pipeline_extra="", sinks=None, extra_pipelines="",
                converter="json"):
    cfg = "\n".join(f"        {k}: {v}" for k, v in config.items())
    sinks = sinks if sinks is not None else f"""      - id: out
        plugin: file
        config: {{file: {tmp}/out.txt}}
"""
    return write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: sensor
    topic: luz
    value.converter: {converter}
    errors.retry.delay.max.ms: 200
{pipeline_extra}    source:
      plugin: serial
      config:
        device: {device}
        reconnect.backoff.ms: 20ms
        reconnect.backoff.max.ms: 100ms
{cfg}
    sinks:
{sinks}{extra_pipelines}""")


class Run:
    """sluice run in the background, stdout and stderr into files."""

    def __init__(self, sluice, tmp, cfg):
        self.tmp = tmp
        self.out = open(tmp / "stdout.txt", "wb")
        self.err = open(tmp / "stderr.txt", "wb")
        self.proc = sluice.spawn("run", cfg, stdout=self.out, stderr=self.err)

    def stderr(self):
        return (self.tmp / "stderr.txt").read_text(errors="replace")

    def stdout_json(self):
        return [json.loads(x) for x in read_lines(self.tmp / "stdout.txt") if x.strip()]

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(self.proc, timeout)
        self.out.close()
        self.err.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


@pytest.fixture
def running(sluice, tmp):
    runs = []

    def start(cfg):
        r = Run(sluice, tmp, cfg)
        runs.append(r)
        return r

    yield start
    for r in runs:
        r.kill()


def wait_out(tmp, n, timeout=10, name="out.txt"):
    wait_until(lambda: len(read_lines(tmp / name)) >= n, timeout,
               what=f"{n} lines in {name} (have {read_lines(tmp / name)[-5:]})")
    time.sleep(scaled(0.2))  # nothing more should come: the callers compare the whole output
    return json_lines(tmp / name)


# -- framing -------------------------------------------------------------------------------------

@pytest.mark.asan
def test_int_framing(running, tmp):
    """\\n and \\r\\n lines, lines split across writes, many lines in one write, empty lines
    skipped; each line its own record in order; timestamp the read time, header `device`."""
    dev = tmp / "ttyACM0"
    pty = Pty(dev)
    cfg = source_yaml(tmp, dev, {"parser": "int"}, sinks=f"""      - id: out
        plugin: file
        config: {{file: {tmp}/out.txt}}
      - id: screen
        plugin: console
        config: {{print.headers: true, print.metadata: true}}
""")
    before = int(time.time() * 1000)
    r = running(cfg)
    try:
        pty.write("1\n2\r\n")
        pty.write("3")
        time.sleep(scaled(0.15))
        pty.write("4\r")
        time.sleep(scaled(0.15))
        pty.write("\n\r\n\n-5\n")
        pty.write("".join(f"{i}\r\n" for i in range(100, 400)))
        got = wait_out(tmp, 304)
        assert got == [{"luz": v} for v in [1, 2, 34, -5] + list(range(100, 400))]
        shown = r.stdout_json()
        assert len(shown) == 304
        after = int(time.time() * 1000)
        for rec in shown:
            assert rec["headers"]["device"] == str(dev)
            assert before <= rec["timestamp"] <= after
        # "34" arrived in two writes 150 ms apart: its time is that of the terminator's read
        assert shown[2]["value"] == {"luz": 34}
        assert shown[2]["timestamp"] - shown[0]["timestamp"] >= 250
    finally:
        assert r.stop() == 0
        pty.close()
    assert "counter serial.lines.empty: 2" in r.stderr()
    assert "counter serial.lines: 304" in r.stderr()


@pytest.mark.asan
def test_crlf_and_lf_terminators(running, tmp):
    """line.terminator: crlf keeps a lone \\n inside the line; lf keeps the \\r."""
    dev = tmp / "tty0"
    pty = Pty(dev)
    cfg = source_yaml(tmp, dev, {"parser": "json", "line.terminator": "crlf"})
    r = running(cfg)
    try:
        pty.write('{"a":\n1}\r\n{"b": 2}\r\n')
        assert wait_out(tmp, 2) == [{"a": 1}, {"b": 2}]
    finally:
        assert r.stop() == 0
        pty.close()

    dev2 = tmp / "tty1"
    pty = Pty(dev2)
    os.unlink(tmp / "out.txt")
    cfg = source_yaml(tmp, dev2, {"parser": "regex", "line.terminator": "lf",
                                  "regex": '"^([a-z]+)(\\r?)$"',  # YAML makes \\r a CR
                                  "regex.fields": "[word:string, cr:string]"})
    r = running(cfg)
    try:
        pty.write("abc\r\nxyz\n")
        assert wait_out(tmp, 2) == [{"word": "abc", "cr": "\r"}, {"word": "xyz", "cr": ""}]
    finally:
        assert r.stop() == 0
        pty.close()


# -- parsers -------------------------------------------------------------------------------------

PARSER_CASES = [
    ("csv", {"parser": "csv", "csv.fields": "[luz:int32, temp:float64, door:boolean, tag, n:int64]"},
     "512,21.5,true,kitchen,9007199254740993\n0,-3,0,,-1\n",
     [{"luz": 512, "temp": 21.5, "door": True, "tag": "kitchen", "n": 9007199254740993},
      {"luz": 0, "temp": -3.0, "door": False, "tag": "", "n": -1}]),
    ("csv-separator", {"parser": "csv", "csv.fields": "[a:int32, b:string]",
                       "csv.separator": "';'"},
     "1;x,y\n2; z\n", [{"a": 1, "b": "x,y"}, {"a": 2, "b": " z"}]),
    ("json", {"parser": "json"},
     '{"luz": 512, "tags": ["a"]}\n[1,2]\n7\n',
     [{"luz": 512, "tags": ["a"]}, [1, 2], 7]),
    ("regex", {"parser": "regex", "regex": "'^T=([-0-9.]+) L=([0-9]+)( ok)?$'",
               "regex.fields": "[temp:float64, luz:int32, ok:string]"},
     "T=21.5 L=512 ok\nT=-4 L=3\n",
     [{"temp": 21.5, "luz": 512, "ok": " ok"}, {"temp": -4.0, "luz": 3, "ok": None}]),
    ("firmware", {"parser": "firmware"},
     "".join(checksum_line(i, 500 + i) for i in range(5)),
     [{"seq": i, "luz": 500 + i} for i in range(5)]),
    ("int-field", {"parser": "int", "field": "light"}, " 42 \n", [{"light": 42}]),
]


@pytest.mark.asan
@pytest.mark.parametrize("name,config,text,expected", PARSER_CASES, ids=[c[0] for c in PARSER_CASES])
def test_parsers(running, tmp, name, config, text, expected):
    dev = tmp / "tty"
    pty = Pty(dev)
    r = running(source_yaml(tmp, dev, config))
    try:
        pty.write(text)
        assert wait_out(tmp, len(expected)) == expected
    finally:
        assert r.stop() == 0
        pty.close()


@pytest.mark.asan
def test_typed_schema_in_the_topic(running, tmp):
    """The values are typed: with the JSON converter's envelope, the topic holds the struct
    schema (name, int64 seq, int32 reading); key.field copies seq into the key."""
    dev = tmp / "tty"
    pty = Pty(dev)
    cfg = source_yaml(tmp, dev, {"parser": "firmware", "schema.name": "iot.luz.Reading",
                                 "key.field": "seq"},
                      pipeline_extra="    value.converter.schemas.enable: true\n"
                                     "    key.converter: json\n"
                                     "    key.converter.schemas.enable: false\n",
                      sinks="", extra_pipelines=f"""  - id: raw
    topic: luz
    value.converter: string
    key.converter: string
    sinks:
      - id: out
        plugin: console
        config: {{print.key: true}}
""")
    # a source-only pipeline: drop the empty sinks key
    cfg.write_text(cfg.read_text().replace("    sinks:\n  - id: raw", "  - id: raw"))
    r = running(cfg)
    try:
        pty.write(checksum_line(7, 321))
        wait_until(lambda: len(read_lines(tmp / "stdout.txt")) >= 1, 10, what="the record")
        rec = r.stdout_json()[0]
        env = json.loads(rec["value"])
        assert env["payload"] == {"seq": 7, "luz": 321}
        schema = env["schema"]
        assert schema["type"] == "struct" and schema["name"] == "iot.luz.Reading"
        types = {f["field"]: f["type"] for f in schema["fields"]}
        assert types == {"seq": "int64", "luz": "int32"}
        assert json.loads(rec["key"]) == 7
    finally:
        assert r.stop() == 0
        pty.close()


# -- bad input -----------------------------------------------------------------------------------

def dlq_yaml(tmp, dev, config):
    return source_yaml(
        tmp, dev, config,
        pipeline_extra="""    errors.tolerance: all
    errors.deadletterqueue.topic.name: serial-dlq
    errors.deadletterqueue.context.headers.enable: true
""",
        extra_pipelines=f"""  - id: dead-letters
    topic: serial-dlq
    value.converter: string
    sinks:
      - id: show
        plugin: console
        config: {{print.headers: true}}
      - id: keep
        plugin: file
        config: {{file: {tmp}/dlq.txt}}
""")


@pytest.mark.asan
def test_garbage_and_long_lines_go_to_the_dead_letter_topic(running, tmp):
    """Binary garbage, non-numbers and overlong lines become failed records (raw line as value,
    __connect.errors.* headers) while the good lines around them flow; the reader resyncs at the
    next terminator after an overlong line, even one that arrives in pieces."""
    dev = tmp / "tty"
    pty = Pty(dev)
    r = running(dlq_yaml(tmp, dev, {"parser": "int", "max.line.length": 64}))
    try:
        pty.write("1\n")
        pty.write(b"\x00\xff\xfe\x80garbage\n")
        pty.write("abc\n2\n")
        pty.write("L" * 100 + "tail-of-the-first\n3\n")
        pty.write("M" * 50)
        time.sleep(scaled(0.15))
        pty.write("M" * 5000)          # far past the limit, in several reads
        time.sleep(scaled(0.15))
        pty.write("M" * 50 + "\r\n4\n")
        pty.write("9" * 64 + "\n")    # 64 digits: the length is fine, the number is not an int32
        pty.write("5\n")
        assert wait_out(tmp, 5) == [{"luz": v} for v in [1, 2, 3, 4, 5]]
        wait_until(lambda: len(r.stdout_json()) >= 5, 10, what="5 dead letters")
    finally:
        assert r.stop() == 0
        pty.close()
    dead = r.stdout_json()
    assert len(dead) == 5, dead
    assert dead[1]["value"] == "abc"
    assert dead[2]["value"] == "L" * 64
    assert dead[3]["value"] == "M" * 64
    assert dead[4]["value"] == "9" * 64
    for d in dead:
        h = d["headers"]
        assert h["__connect.errors.topic"] == "luz"
        assert h["__connect.errors.connector.name"] == "sensor"
        assert h["__connect.errors.stage"] == "TASK_POLL"
        assert h["device"] == str(dev)
    assert "garbage" in dead[0]["value"]
    assert "not an int32" in dead[1]["headers"]["__connect.errors.exception.message"]
    assert "max.line.length" in dead[2]["headers"]["__connect.errors.exception.message"]
    # the dead-letter file keeps the raw bytes of the garbage line
    raw = (tmp / "dlq.txt").read_bytes()
    assert b"\x00\xff\xfe\x80garbage\n" in raw
    assert b"\nabc\n" in raw
    err = r.stderr()
    assert "counter serial.lines.bad: 5" in err
    assert "counter serial.lines.too.long: 2" in err
    assert "counter serial.lines.not.number: 3" in err


@pytest.mark.asan
def test_bad_line_stops_the_pipeline_without_tolerance(running, tmp):
    """errors.tolerance none (the default): a bad line fails the pipeline, sluice exits 1."""
    dev = tmp / "tty"
    pty = Pty(dev)
    r = running(source_yaml(tmp, dev, {"parser": "int"}))
    try:
        pty.write("1\nnope\n2\n")
        rc = wait_exit(r.proc, 15)
    finally:
        r.kill()
        pty.close()
    assert rc == 1
    assert "not an int32" in r.stderr()
    assert json_lines(tmp / "out.txt") in ([], [{"luz": 1}])


@pytest.mark.asan
def test_firmware_checksums_gaps_and_resets(running, tmp):
    """A wrong checksum or a malformed sentence is a failed record; lost sequence numbers are
    counted as gaps; a sequence back at 0 is a reset, not a gap."""
    dev = tmp / "tty"
    pty = Pty(dev)
    r = running(dlq_yaml(tmp, dev, {"parser": "firmware"}))
    lines = [checksum_line(i, 100 + i) for i in range(5)]         # 0..4
    lines.append(checksum_line(5, 105, corrupt=True))               # bad checksum
    lines += [checksum_line(6, 106), checksum_line(7, 107)]         # gap 1 (5 lost)
    lines += ["$LUZ,8,oops*00\n", "512\n"]                          # malformed
    lines += [checksum_line(11, 111)]                                # gap 2 (8..10 lost)
    lines += [checksum_line(0, 1), checksum_line(1, 2)]             # device reset
    try:
        pty.write("".join(lines))
        got = wait_out(tmp, 10)
        wait_until(lambda: len(r.stdout_json()) >= 3, 10, what="3 dead letters")
    finally:
        assert r.stop() == 0
        pty.close()
    assert [(g["seq"], g["luz"]) for g in got] == \
        [(i, 100 + i) for i in range(5)] + [(6, 106), (7, 107), (11, 111), (0, 1), (1, 2)]
    dead = r.stdout_json()
    assert [d["value"] for d in dead] == [lines[5].strip(), "$LUZ,8,oops*00", "512"]
    assert "checksum" in dead[0]["headers"]["__connect.errors.exception.message"]
    err = r.stderr()
    assert "counter serial.checksum.errors: 1" in err
    assert "counter serial.lines.malformed: 2" in err
    assert "counter serial.seq.gaps: 2" in err
    assert "counter serial.seq.lost: 4" in err
    assert "counter serial.seq.resets: 1" in err
    assert "sequence gap" in err and "device was reset" in err


# -- the device goes and comes back ------------------------------------------------------------

@pytest.mark.asan
def test_disconnect_drops_partial_line_and_reconnects(running, tmp):
    """The device is missing at start (sluice waits), appears, disappears with half a line
    pending (not emitted), and comes back as a new pty: sluice reads it without a restart."""
    dev = tmp / "ttyUSB0"
    r = running(source_yaml(tmp, dev, {"parser": "int"}))
    time.sleep(scaled(0.5))
    assert r.proc.poll() is None, r.stderr()
    pty = Pty(dev)
    try:
        pty.write("1\n2\n")
        assert wait_out(tmp, 2) == [{"luz": 1}, {"luz": 2}]
        pty.write("12")                      # unfinished when the device goes
        time.sleep(scaled(0.2))
        pty.close()
        wait_until(lambda: "disconnected" in r.stderr(), 10, what="the disconnect to be logged")
        os.unlink(dev)
        time.sleep(scaled(0.5))              # several failed open attempts
        assert r.proc.poll() is None, r.stderr()
        pty = Pty(dev)
        pty.write("3\n4\n")
        assert wait_out(tmp, 4) == [{"luz": v} for v in (1, 2, 3, 4)]
        # and once more, the master closed while sluice is waiting in poll
        pty.close()
        pty = Pty(dev)
        pty.write("5\n")
        assert wait_out(tmp, 5) == [{"luz": v} for v in (1, 2, 3, 4, 5)]
    finally:
        assert r.stop() == 0
        pty.close()
    err = r.stderr()
    assert err.count("reconnected to") == 2, err
    assert err.count("disconnected (") >= 2
    assert "unfinished line" in err
    assert "counter serial.lines.partial: 1" in err


@pytest.mark.asan
def test_sigterm_stops_promptly(running, tmp):
    """An idle device does not hold sluice up: SIGTERM ends it at once, exit 0."""
    dev = tmp / "tty"
    pty = Pty(dev)
    r = running(source_yaml(tmp, dev, {"parser": "int"}))
    try:
        pty.write("1\n")
        wait_out(tmp, 1)
        t0 = time.monotonic()
        assert r.stop(timeout=5) == 0
        assert time.monotonic() - t0 < scaled(2.0)
    finally:
        pty.close()


def test_idle_source_does_not_spin(running, tmp):
    """Waiting on an idle device costs (almost) no CPU: poll(2) waits on the descriptor."""
    dev = tmp / "tty"
    pty = Pty(dev)
    r = running(source_yaml(tmp, dev, {"parser": "int"}))
    try:
        pty.write("1\n")
        wait_out(tmp, 1)

        def cpu():
            with open(f"/proc/{r.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime + stime, clock ticks

        c0 = cpu()
        time.sleep(2.0)
        used = (cpu() - c0) / os.sysconf("SC_CLK_TCK")
        assert used < 0.2, f"{used:.2f} s of CPU in 2 s while idle"
    finally:
        assert r.stop() == 0
        pty.close()


# -- configuration -------------------------------------------------------------------------------

LINT_CASES = [
    ("unknown-parser", {"parser": "xml"}, "parser"),
    ("bad-baud", {"baud": 12345}, "baud"),
    ("bad-data-bits", {"data.bits": 9}, "data.bits"),
    ("csv-without-fields", {"parser": "csv"}, "csv.fields"),
    ("csv-bad-type", {"parser": "csv", "csv.fields": "[a:int8]"}, "csv.fields"),
    ("csv-bad-separator", {"parser": "csv", "csv.fields": "[a]", "csv.separator": "'::'"},
     "csv.separator"),
    ("regex-without-regex", {"parser": "regex", "regex.fields": "[a]"}, "regex"),
    ("regex-without-fields", {"parser": "regex", "regex": "'(a)'"}, "regex.fields"),
    ("regex-invalid", {"parser": "regex", "regex": "'(a'", "regex.fields": "[a]"}, "regex"),
    ("regex-too-few-groups", {"parser": "regex", "regex": "'(a)'", "regex.fields": "[a, b]"},
     "regex.fields"),
    ("bad-schema-name", {"parser": "int", "schema.name": "'9bad name'"}, "schema.name"),
    ("bad-key-field", {"parser": "int", "key.field": "nope"}, "key.field"),
]


@pytest.mark.asan
@pytest.mark.parametrize("name,config,key", LINT_CASES, ids=[c[0] for c in LINT_CASES])
def test_lint_refuses_bad_config(sluice, tmp, name, config, key):
    cfg = source_yaml(tmp, tmp / "no-such-tty", config)
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"'{key}'" in r.stderr or f"{key}:" in r.stderr or f"'{key}" in r.stderr, r.stderr


@pytest.mark.asan
def test_lint_accepts_good_config_without_the_device(sluice, tmp):
    """lint runs init, which does no device I/O: a device that is not plugged in is fine."""
    cfg = source_yaml(tmp, tmp / "no-such-tty",
                      {"parser": "csv", "csv.fields": "[luz:int32, t:float64]", "baud": 115200,
                       "parity": "even", "stop.bits": 2, "data.bits": 7,
                       "flow.control": "rtscts"})
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.asan
def test_not_a_tty_fails_clearly(sluice, tmp):
    """A regular file is no serial device: the pipeline fails and says so (no retry loop)."""
    (tmp / "plain").write_text("1\n")
    cfg = source_yaml(tmp, tmp / "plain", {"parser": "int"})
    r = sluice.run("run", cfg, timeout=20)
    assert r.returncode == 1
    assert "not a serial device" in r.stderr


# -- Avro ----------------------------------------------------------------------------------------

@pytest.mark.asan
def test_avro_through_a_real_registry(running, tmp, schema_registry):
    """value.converter: avro works: the firmware's typed values go through the in-process topic
    as Confluent-framed Avro and the registry holds the schema named by schema.name."""
    import urllib.request
    dev = tmp / "tty"
    pty = Pty(dev)
    cfg = source_yaml(tmp, dev, {"parser": "firmware", "schema.name": "iot.luz.Reading"},
                      converter="avro")
    cfg.write_text(cfg.read_text().replace(
        "pipelines:\n", f"schema.registry:\n  url: {schema_registry.url}\npipelines:\n", 1))
    r = running(cfg)
    try:
        pty.write("".join(checksum_line(i, 1023 - i) for i in range(20)))
        assert wait_out(tmp, 20, timeout=30) == [{"seq": i, "luz": 1023 - i} for i in range(20)]
    finally:
        assert r.stop() == 0
        pty.close()
    with urllib.request.urlopen(
            f"{schema_registry.url}/subjects/luz-value/versions/latest", timeout=30) as resp:
        schema = json.loads(json.loads(resp.read())["schema"])
    assert schema["type"] == "record"
    assert (schema.get("namespace"), schema["name"]) in (("iot.luz", "Reading"),
                                                          (None, "iot.luz.Reading"))
    assert {f["name"]: f["type"] for f in schema["fields"]} == {"seq": "long", "luz": "int"}


# -- the real firmware in the simulator ----------------------------------------------------------

@pytest.mark.asan
def test_firmware_in_the_simulator(running, tmp, build):
    """firmware/ldr_seq (100 readings/s, 115200 baud) in sluice-sim with A3 at a constant 1000 mV:
    every reading arrives, seq 0.. without a gap, ADC = 1000 × 1023 / 5000 = 204; the simulator's
    exit (its pty gone) is a disconnect, not a failure."""
    sim = build / "firmware" / "sluice-sim"
    elf = build / "firmware" / "ldr_seq_fast.elf"
    assert sim.is_file() and elf.is_file(), \
        f"{sim} or {elf} is not built (avr-gcc, simavr missing)"
    dev = tmp / "arduino"
    r = running(source_yaml(tmp, dev, {"parser": "firmware", "baud": 115200}))
    simp = subprocess.Popen([str(sim), "--constant", "1000", "--seconds", "2", "--link", str(dev),
                             str(elf)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_exit(simp, 30)
        wait_until(lambda: "disconnected" in r.stderr(), 10, what="the simulator's hang-up")
        time.sleep(scaled(0.3))
    finally:
        if simp.poll() is None:
            simp.kill()
            simp.wait()
        assert r.stop() == 0
    got = json_lines(tmp / "out.txt")
    assert len(got) >= 150, f"{len(got)} readings from 2 s at 100/s"
    assert [g["seq"] for g in got] == list(range(len(got)))
    assert {g["luz"] for g in got} == {204}
    assert "serial.seq.gaps" not in r.stderr()
    assert "serial.lines.bad" not in r.stderr()


@pytest.mark.asan
def test_first_line_after_open_may_be_a_fragment(running, tmp):
    """Opened while the device is mid-line: the tail of that sentence is dropped (counted), not
    failed, so errors.tolerance none survives it; a bad line later still fails the pipeline."""
    dev = tmp / "tty"
    pty = Pty(dev)
    pty.write("UZ,4,123*" + "\n")   # the end of "$LUZ,4,123*HH" that sluice came in the middle of
    pty.write(checksum_line(5, 124) + checksum_line(6, 125))
    r = running(source_yaml(tmp, dev, {"parser": "firmware"}))
    try:
        assert wait_out(tmp, 2) == [{"seq": 5, "luz": 124}, {"seq": 6, "luz": 125}]
        assert r.proc.poll() is None
        pty.write("UZ,7,1*00\n")
        rc = wait_exit(r.proc, 15)
    finally:
        r.kill()
        pty.close()
    assert rc == 1
    err = r.stderr()
    assert "dropped the first line after opening" in err
    assert "counter serial.lines.partial: 1" in err


# -- several devices in one source ---------------------------------------------------------------

def multi_config(devs):
    return "[" + ", ".join(str(d) for d in devs) + "]"


@pytest.mark.asan
@pytest.mark.tsan
def test_several_devices_one_source(running, tmp):
    """`device` as a list: one source reads three ptys; every line of each arrives, in order per
    device, with its own `device` header; each device has its own framing (a line split across
    writes on one device is not mixed with another's) and its own firmware seq check."""
    devs = [tmp / f"ttyACM{i}" for i in range(3)]
    ptys = [Pty(d) for d in devs]
    cfg = source_yaml(tmp, multi_config(devs), {"parser": "firmware", "poll.linger.ms": "20ms"},
                      sinks=f"""      - id: screen
        plugin: console
        config: {{print.headers: true}}
""")
    r = running(cfg)
    try:
        wait_until(lambda: r.stderr().count(" opened ") == 3, 10, what="the three devices opened")
        ptys[0].write(checksum_line(0, 100)[:5])  # half a sentence on device 0 ...
        ptys[1].write(checksum_line(0, 200))      # ... while device 1 sends a whole one
        time.sleep(scaled(0.1))
        ptys[0].write(checksum_line(0, 100)[5:])
        for seq in range(1, 50):
            for i, p in enumerate(ptys):
                p.write(checksum_line(seq if i != 2 else seq - 1, 100 * (i + 1) + seq))
        wait_until(lambda: len(read_lines(tmp / "stdout.txt")) >= 149, 10, what="149 records")
        time.sleep(scaled(0.2))
    finally:
        assert r.stop() == 0
        for p in ptys:
            p.close()
    got = r.stdout_json()
    assert len(got) == 149
    per = {str(d): [] for d in devs}
    for rec in got:
        per[rec["headers"]["device"]].append(rec["value"])
    assert per[str(devs[0])] == [{"seq": s, "luz": 100 + s} for s in range(0, 50)]
    assert per[str(devs[1])] == [{"seq": 0, "luz": 200}] + \
        [{"seq": s, "luz": 200 + s} for s in range(1, 50)]
    assert per[str(devs[2])] == [{"seq": s - 1, "luz": 300 + s} for s in range(1, 50)]
    err = r.stderr()
    assert "serial.seq.gaps" not in err and "serial.lines.bad" not in err, err
    assert "counter serial.lines: 149" in err


@pytest.mark.asan
@pytest.mark.tsan
def test_several_devices_one_unplugged(running, tmp):
    """Of two devices one goes away: the other keeps flowing (no NOT_CONNECTED, no pause), the
    missing one is retried on its own and read again once it is back; with both gone the source
    waits, and either coming back is read."""
    a, b = tmp / "ttyA", tmp / "ttyB"
    pa, pb = Pty(a), Pty(b)
    r = running(source_yaml(tmp, multi_config([a, b]), {"parser": "int"}))
    got = lambda: [(x["luz"]) for x in json_lines(tmp / "out.txt")]  # noqa: E731
    try:
        wait_until(lambda: r.stderr().count(" opened ") == 2, 10, what="both devices opened")
        pa.write("1\n")
        pb.write("1001\n")
        wait_until(lambda: sorted(got()) == [1, 1001], 10, what="one line from each")
        pb.write("1002\n10")                  # an unfinished line when B goes
        time.sleep(scaled(0.2))
        pb.close()
        wait_until(lambda: f"{b} disconnected" in r.stderr(), 10, what="B's disconnect logged")
        os.unlink(b)
        for i in range(2, 12):                # A goes on while B is away
            pa.write(f"{i}\n")
            time.sleep(scaled(0.05))
        wait_until(lambda: 11 in got(), 10, what="A's lines while B is away")
        assert r.proc.poll() is None, r.stderr()
        pb = Pty(b)
        wait_until(lambda: f"reconnected to {b}" in r.stderr(), 10, what="B reopened")
        pb.write("1003\n")
        pa.write("12\n")
        wait_until(lambda: 1003 in got() and 12 in got(), 10, what="lines from both again")
        # both away: the source waits; A comes back first
        pa.close()
        pb.close()
        wait_until(lambda: r.stderr().count("disconnected (") >= 3, 10, what="both gone")
        time.sleep(scaled(0.3))
        assert r.proc.poll() is None, r.stderr()
        pa = Pty(a)
        wait_until(lambda: r.stderr().count(f"reconnected to {a}") == 1, 10, what="A reopened")
        pa.write("13\n")
        wait_until(lambda: 13 in got(), 10, what="A's line after both were away")
    finally:
        assert r.stop() == 0
        pa.close()
        pb.close()
    vals = got()
    assert [v for v in vals if v < 1000] == list(range(1, 14))
    assert [v for v in vals if v > 1000] == [1001, 1002, 1003]
    err = r.stderr()
    assert "unfinished line" in err
    assert "counter serial.lines.partial: 1" in err
    assert "counter serial.reconnects: 2" in err
    assert "none of the 2 devices is available" in err    # only while both were away


@pytest.mark.asan
def test_several_devices_config(sluice, tmp):
    """A device named twice is refused; a comma-separated string is a list as well."""
    cfg = source_yaml(tmp, f"[{tmp}/x, {tmp}/x]", {"parser": "int"})
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 2 and "'device' names" in r.stderr, r.stderr
    cfg = source_yaml(tmp, f"'{tmp}/x, {tmp}/y'", {"parser": "int", "poll.linger.ms": "2s"})
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 2 and "poll.linger.ms" in r.stderr, r.stderr
    cfg = source_yaml(tmp, f"'{tmp}/x, {tmp}/y'", {"parser": "int", "poll.linger.ms": "10ms"})
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
