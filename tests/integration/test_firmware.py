"""The light sensor's firmware (firmware/ldr, firmware/ldr_seq) built with avr-gcc, run on an
emulated ATmega328P by sluice-sim: the readings on the pseudo-terminal follow the light profile on
A3 (ADC = floor(mV * 1023 / 5000)), the improved firmware's sequence numbers are consecutive with
valid checksums, and the simulator keeps time and stops when told.

The tools (gcc-avr, arduino-mk, libsimavr) come from scripts/test (deps group `firmware`): a build
without them fails here rather than skipping."""
import math
import os
import re
import select
import signal
import subprocess
import termios
import time

import pytest

import sluicetest
from sluicetest import REPO, scaled

VCC_MV = 5000
LINE_RE = re.compile(rb"\$(LUZ,(\d+),(\d+))\*([0-9A-F]{2})\r\n")


def adc_of(mv):
    return mv * 1023 // VCC_MV


@pytest.fixture(scope="session")
def fw(build):
    d = build / "firmware"
    sim = d / "sluice-sim"
    assert sim.is_file() and os.access(sim, os.X_OK), \
        f"{sim} is not built: meson builds it when libsimavr-dev and libelf-dev are installed " \
        "(scripts/lib/deps.sh group firmware)"
    for name in ("ldr", "ldr_seq", "ldr_seq_fast"):
        assert (d / f"{name}.elf").is_file(), \
            f"{d / name}.elf is not built: meson builds it when gcc-avr, avr-libc, " \
            "arduino-core-avr and arduino-mk are installed (scripts/lib/deps.sh group firmware)"
    return d


class Sim:
    """One sluice-sim process and the reading end of its pty (raw, no echo, set with TCSANOW so
    nothing already queued is dropped)."""

    def __init__(self, fw, tmp, firmware, *args):
        self.stderr_path = tmp / f"sim-{time.monotonic_ns()}.stderr"
        self.stderr = open(self.stderr_path, "wb")
        self.argv = [str(fw / "sluice-sim"), *map(str, args), str(fw / f"{firmware}.elf")]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.fd = None
        self.buf = b""
        self.eof = False
        try:
            self._open_pty()
        except BaseException:
            self.close()
            raise

    def _open_pty(self):
        first = self._stdout_line(10)
        m = re.fullmatch(r"pty: (/dev/\S+)\n", first)
        assert m, f"sluice-sim's first line on stdout is {first!r}, not 'pty: PATH'"
        self.pty = m.group(1)
        self.fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        attrs = termios.tcgetattr(self.fd)
        attrs[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP |
                      termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
        attrs[1] &= ~termios.OPOST
        attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        attrs[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG |
                      termios.IEXTEN)
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def _stdout_line(self, timeout):
        out = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + scaled(timeout)
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, f"no line from {self.argv} on stdout within {scaled(timeout)} s " \
                f"(got {data!r}); stderr: {self.log()}"
            r, _, _ = select.select([out], [], [], min(left, 0.2))
            if r:
                chunk = os.read(out, 1)
                assert chunk, f"{self.argv} closed stdout: {self.log()}"
                data += chunk
        return data.decode()

    def log(self):
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def write(self, data):
        os.write(self.fd, data)

    def _fill(self, wait):
        r, _, _ = select.select([self.fd], [], [], wait)
        if not r:
            return
        try:
            chunk = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the simulator closed the pty
            chunk = b""
        if chunk:
            self.buf += chunk
        else:
            self.eof = True

    def lines(self, n, timeout):
        """The next n lines (with their line ends), waiting at most `timeout` seconds."""
        deadline = time.monotonic() + scaled(timeout)
        while self.buf.count(b"\n") < n:
            left = deadline - time.monotonic()
            got = self.buf.count(b"\n")
            assert left > 0 and not self.eof, \
                f"{n} lines wanted from {self.pty}, got {got} within " \
                f"{scaled(timeout)} s: {self.buf[-300:]!r}; stderr: {self.log()[-2000:]}"
            self._fill(min(left, 0.2))
        out = []
        for _ in range(n):
            i = self.buf.index(b"\n") + 1
            out.append(self.buf[:i])
            self.buf = self.buf[i:]
        return out

    def lines_to_end(self, timeout):
        """Every line until the simulator exits (--seconds), waiting at most `timeout` seconds."""
        deadline = time.monotonic() + scaled(timeout)
        while not self.eof and time.monotonic() < deadline:
            self._fill(0.2)
            if self.proc.poll() is not None:
                while not self.eof and time.monotonic() < deadline:
                    before = len(self.buf)
                    self._fill(0.05)
                    if len(self.buf) == before:
                        break
                break
        sluicetest.wait_exit(self.proc, max(1, deadline - time.monotonic()))
        assert self.proc.returncode == 0, f"sluice-sim exited {self.proc.returncode}: {self.log()}"
        out = self.buf.split(b"\n")
        self.buf = out.pop()
        return [ln + b"\n" for ln in out]

    def trace(self):
        """(seconds, millivolts) of every ADC conversion so far (--trace)."""
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
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.proc.stdout.close()
        self.stderr.close()


@pytest.fixture
def sim(fw, tmp):
    """sim(firmware, *args) starts sluice-sim; every one is stopped at the end of the test."""
    started = []

    def start(firmware, *args):
        s = Sim(fw, tmp, firmware, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def parse_seq(line):
    """(seq, adc) of one ldr_seq line, after checking its format and checksum."""
    m = LINE_RE.fullmatch(line)
    assert m, f"not a '$LUZ,<seq>,<adc>*HH\\r\\n' line: {line!r}"
    want = 0
    for b in m.group(1):
        want ^= b
    assert int(m.group(4), 16) == want, f"bad checksum in {line!r}: want {want:02X}"
    return int(m.group(2)), int(m.group(3))


def check_seq_lines(lines, first_seq=0):
    readings = [parse_seq(ln) for ln in lines]
    seqs = [s for s, _ in readings]
    assert seqs == list(range(first_seq, first_seq + len(seqs))), f"sequence numbers: {seqs}"
    return [adc for _, adc in readings]


# -- the build ------------------------------------------------------------------------------------

SIZE_RE = re.compile(r"^(\S+): flash (\d+) B of 32256 \(.*\), RAM (\d+) B of 2048 \(.*\) "
                     r"\[text (\d+), data (\d+), bss (\d+)\]")


@pytest.mark.parametrize("name", ["ldr", "ldr_seq", "ldr_seq_fast"])
def test_build_made_the_elf_hex_and_size_report(fw, name):
    elf = (fw / f"{name}.elf").read_bytes()
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == 83, \
        f"{name}.elf is not an AVR ELF (e_machine 83)"
    hex_lines = (fw / f"{name}.hex").read_text().splitlines()
    assert hex_lines and all(ln.startswith(":") for ln in hex_lines), f"{name}.hex is not Intel HEX"
    assert hex_lines[-1] == ":00000001FF", f"{name}.hex has no end record"
    report = (fw / f"{name}.size").read_text()
    m = SIZE_RE.match(report)
    assert m and m.group(1) == name, f"{name}.size: {report!r}"
    flash, ram, text, data, bss = map(int, m.groups()[1:])
    assert flash == text + data and ram == data + bss
    assert 1000 < flash < 8192 and 100 < ram < 1024, report


def test_build_script_reports_sizes_and_takes_defines(tmp):
    r = subprocess.run([str(REPO / "firmware/build.sh"), str(REPO / "firmware/ldr_seq"), str(tmp),
                        "ldr_seq_p100", "-DPERIOD_MS=100"], capture_output=True, text=True,
                       timeout=scaled(300))
    assert r.returncode == 0, r.stderr
    assert SIZE_RE.match(r.stdout) and "(-DPERIOD_MS=100)" in r.stdout, r.stdout
    assert (tmp / "ldr_seq_p100.elf").is_file() and (tmp / "ldr_seq_p100.hex").is_file()
    assert not list((REPO / "firmware/ldr_seq").glob("build-*")), "objects in the source tree"

    r = subprocess.run([str(REPO / "firmware/build.sh"), str(REPO / "firmware/ldr"), str(tmp),
                        "ldr", "PERIOD_MS=1"], capture_output=True, text=True, timeout=scaled(60))
    assert r.returncode == 2 and "not a -DMACRO" in r.stderr, r.stderr


# -- readings -------------------------------------------------------------------------------------

MILLIVOLTS = [0, 1000, 2500, 3300, 4990]


@pytest.mark.parametrize("mv", MILLIVOLTS)
def test_seed_sketch_prints_the_bare_reading(sim, mv):
    s = sim("ldr", "--constant", mv, "--speed", 0)
    [line] = s.lines(1, 20)  # the first reading comes right after reset
    assert line == f"{adc_of(mv)}\r\n".encode(), f"{mv} mV"


@pytest.mark.parametrize("mv", MILLIVOLTS)
def test_seq_firmware_readings_are_numbered_and_checksummed(sim, mv):
    s = sim("ldr_seq", "--constant", mv, "--speed", 0, "--trace")
    # the first reading comes right after reset; then 20 ms apart once told so
    s.write(b"P20\n")
    lines = s.lines(30, 30)
    assert check_seq_lines(lines) == [adc_of(mv)] * 30, f"{mv} mV"
    times = [t for t, _ in s.trace()[:30]]
    assert len(times) == 30
    # from the third reading on, every reading is due 20 ms after the previous one: no drift
    # (millis() moves by 1.024 ms ticks, hence the tolerance)
    for k in range(2, 30):
        assert abs(times[k] - times[2] - (k - 2) * 0.020) < 0.0021, times


def test_seq_firmware_ignores_bad_commands_and_keeps_its_period(sim):
    s = sim("ldr_seq", "--constant", 1234, "--speed", 0, "--trace")
    s.write(b"P5\nPabc\nP123456789012345\nX20\n\nP30\r\n")  # only P30 is valid (10 ms minimum)
    lines = s.lines(12, 30)
    assert check_seq_lines(lines) == [adc_of(1234)] * 12
    times = [t for t, _ in s.trace()[:12]]
    for k in range(2, 12):
        assert abs(times[k] - times[2] - (k - 2) * 0.030) < 0.0021, times


def test_default_periods_are_five_seconds(sim):
    seed = sim("ldr", "--constant", 2000, "--speed", 0, "--seconds", 10.5, "--trace")
    seq = sim("ldr_seq", "--constant", 2000, "--speed", 0, "--seconds", 10.5, "--trace")
    assert seed.lines_to_end(60) == [f"{adc_of(2000)}\r\n".encode()] * 3
    assert check_seq_lines(seq.lines_to_end(60)) == [adc_of(2000)] * 3
    for s in (seed, seq):
        times = [t for t, _ in s.trace()]
        assert len(times) == 3
        # the seed's delay(5000) comes on top of the time to read and print
        assert times[0] < 0.01 and all(abs(b - a - 5.0) < 0.01 for a, b in zip(times, times[1:])), \
            times


def test_fast_variant_sends_100_readings_a_second(sim):
    s = sim("ldr_seq_fast", "--constant", 4321, "--speed", 0, "--seconds", 1.005, "--trace")
    lines = s.lines_to_end(60)
    assert check_seq_lines(lines) == [adc_of(4321)] * 101
    times = [t for t, _ in s.trace()]
    assert all(abs(t - times[0] - k * 0.010) < 0.0021 for k, t in enumerate(times)), times


# -- profiles -------------------------------------------------------------------------------------

def check_against_profile(s, lines, profile):
    """Each reading is the ADC of the voltage the simulator put on A3 at its conversion, and that
    voltage is the profile's at that simulated time."""
    adcs = check_seq_lines(lines)
    trace = s.trace()
    assert len(trace) == len(adcs), (len(trace), len(adcs))
    for adc, (t, mv) in zip(adcs, trace):
        assert adc == adc_of(mv), (t, mv, adc)
        assert abs(mv - profile(t)) <= 1, (t, mv, profile(t))
    return [(t, adc) for adc, (t, _) in zip(adcs, trace)]


def test_daynight_profile(sim):
    lo, hi, period = 100, 4900, 2.0
    s = sim("ldr_seq_fast", "--daynight", f"{lo}:{hi}:{period}", "--speed", 0, "--seconds", 2.505,
            "--trace")
    lines = s.lines_to_end(60)
    assert len(lines) == 251

    def profile(t):
        return lo + (hi - lo) * (1 - math.cos(2 * math.pi * t / period)) / 2

    readings = check_against_profile(s, lines, profile)
    # dark at midnight (t=0, t=2), bright at noon (t=1), rising through the morning
    assert readings[0][1] == adc_of(lo)
    assert max(readings, key=lambda r: r[1])[1] >= adc_of(hi) - 1
    assert abs(max(readings, key=lambda r: r[1])[0] - 1.0) < 0.02
    assert min(adc for t, adc in readings if 1.5 < t < 2.5) <= adc_of(lo) + 1
    morning = [adc for t, adc in readings if 0.05 < t < 0.95]
    assert morning == sorted(morning) and morning[-1] - morning[0] > 800


def write_csv(path, text):
    path.write_text(text)
    return path


def csv_reference(rows, step=False, loop=False):
    def profile(t):
        if loop and t >= rows[-1][0]:
            t = math.fmod(t, rows[-1][0])
        if t <= rows[0][0]:
            return rows[0][1]
        if t >= rows[-1][0]:
            return rows[-1][1]
        i = max(k for k, (rt, _) in enumerate(rows) if rt <= t)
        (t0, v0), (t1, v1) = rows[i], rows[i + 1]
        return v0 if step or t1 == t0 else v0 + (t - t0) / (t1 - t0) * (v1 - v0)
    return profile


def test_csv_profile_interpolates(sim, tmp):
    rows = [(0.2, 0.0), (0.7, 5000.0), (1.0, 2000.0), (1.2, 2000.0), (1.3, 3500.0)]
    csv = write_csv(tmp / "light.csv", "seconds,millivolts\n# dawn\n" +
                    "".join(f"{t},{mv}\n" for t, mv in rows))
    s = sim("ldr_seq_fast", "--csv", csv, "--speed", 0, "--seconds", 1.505, "--trace")
    lines = s.lines_to_end(60)
    assert len(lines) == 151
    readings = check_against_profile(s, lines, csv_reference(rows))
    assert {adc for t, adc in readings if t < 0.2} == {0}
    assert {adc for t, adc in readings if t > 1.3} == {adc_of(3500)}
    ramp = [adc for t, adc in readings if 0.2 < t < 0.7]
    assert ramp == sorted(ramp) and len(set(ramp)) > 40


def test_csv_profile_step_and_loop(sim, tmp):
    rows = [(0.0, 1000.0), (0.3, 4000.0), (0.5, 250.0), (0.6, 1000.0)]
    csv = write_csv(tmp / "steps.csv", "".join(f"{t},{mv}\n" for t, mv in rows))
    s = sim("ldr_seq_fast", "--csv", csv, "--step", "--loop", "--speed", 0, "--seconds", 1.305,
            "--trace")
    lines = s.lines_to_end(60)
    readings = check_against_profile(s, lines, csv_reference(rows, step=True, loop=True))
    assert {adc for _, adc in readings} == {adc_of(1000), adc_of(4000), adc_of(250)}
    # the second lap repeats the first
    assert [adc for t, adc in readings if 0.6 <= t < 1.2] == \
        [adc for t, adc in readings if 0.0 <= t < 0.6]


# -- running --------------------------------------------------------------------------------------

def test_start_line_names_firmware_profile_and_speed(sim, fw):
    s = sim("ldr_seq", "--daynight", "200:4500:86400", "--speed", 3)
    s.lines(1, 20)
    line = next(ln for ln in s.log().splitlines() if ln.startswith("sluice-sim: firmware"))
    assert str(fw / "ldr_seq.elf") in line and "daynight 200..4500 mV over 86400 s" in line \
        and "speed 3x real time" in line and s.pty in line, line


def test_real_time_pace(sim):
    # half real time: well below what any machine simulates, so the pace is the simulator's own
    start = time.monotonic()
    s = sim("ldr_seq_fast", "--constant", 3000, "--speed", 0.5, "--seconds", 0.605)
    lines = s.lines_to_end(30)
    took = time.monotonic() - start
    assert check_seq_lines(lines) == [adc_of(3000)] * 61
    assert took >= 1.15, f"0.6 s of simulated time at half speed took {took:.2f} s"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_promptly_on_signal(sim, tmp, sig):
    link = tmp / "ldr-tty"
    s = sim("ldr_seq", "--constant", 2500, "--link", link)
    assert os.readlink(link) == s.pty
    s.lines(1, 20)
    t = time.monotonic()
    s.proc.send_signal(sig)
    sluicetest.wait_exit(s.proc, 2)
    assert time.monotonic() - t < scaled(2)
    assert s.proc.returncode == 0, s.log()
    assert not os.path.lexists(link), "--link left behind"
    assert "stopped by" in s.log()


@pytest.mark.parametrize("args, message", [
    ([], "which firmware"),
    (["--constant", "6000", "F"], "--constant wants millivolts 0..5000"),
    (["--daynight", "100:200", "F"], "--daynight wants MIN:MAX:SECONDS"),
    (["--constant", "1", "--csv", "C", "F"], "one profile only"),
    (["--speed", "-1", "F"], "--speed wants a factor >= 0"),
    (["--step", "F"], "--step and --loop go with --csv"),
    (["/nonexistent.elf"], "/nonexistent.elf: No such file"),
])
def test_bad_arguments(fw, args, message):
    r = subprocess.run([str(fw / "sluice-sim"), *args], capture_output=True, text=True,
                       timeout=scaled(10))
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert "pty:" not in r.stdout


def test_bad_csv_names_the_line(fw, tmp):
    csv = write_csv(tmp / "bad.csv", "seconds,millivolts\n0,100\n1,abc\n")
    r = subprocess.run([str(fw / "sluice-sim"), "--csv", str(csv), str(fw / "ldr.elf")],
                       capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 2 and f"{csv}:3: expected 'seconds,millivolts'" in r.stderr, r.stderr
    csv = write_csv(tmp / "back.csv", "0,100\n2,200\n1,300\n")
    r = subprocess.run([str(fw / "sluice-sim"), "--csv", str(csv), str(fw / "ldr.elf")],
                       capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 2 and f"{csv}:3: seconds must be >= 0 and never go back" in r.stderr
