"""Helpers shared by the integration tests: deterministic input, YAML files, running sluice with
bounded waits, and the at-least-once output checker. Imported by conftest.py and the tests."""
import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Sanitizer and valgrind builds run several times slower: scripts/test raises this for them.
TIMEOUT_SCALE = float(os.environ.get("SLUICE_TIMEOUT_SCALE", "1"))


def scaled(seconds):
    return seconds * TIMEOUT_SCALE


def build_dir():
    d = Path(os.environ.get("SLUICE_BUILD", "build"))
    return d if d.is_absolute() else REPO / d


# -- deterministic input -----------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_FILLER = _ALPHABET * 3
LINE_BYTES = 100


def line(i):
    """Line i of the generated inputs: exactly 100 bytes with its newline, unique per i."""
    k = i % len(_ALPHABET)
    return f"{i:010d} {_FILLER[k:k + 88]}\n"


def write_lines(path, count, start=0, mode="w"):
    """Writes lines start..start+count-1 to path (mode "a" appends). Returns the bytes written."""
    written = 0
    with open(path, mode, encoding="ascii") as f:
        step = 100_000
        for s in range(start, start + count, step):
            chunk = "".join(line(i) for i in range(s, min(s + step, start + count)))
            f.write(chunk)
            written += len(chunk)
    return written


# -- YAML --------------------------------------------------------------------------------------

def write_yaml(path, text):
    Path(path).write_text(text)
    return Path(path)


def file_to_file_yaml(src, dst, offsets, *, follow=False, converter="string", extra_pipeline="",
                      pipeline_id="copy", sink_config=""):
    """One pipeline: file source (text) → file sink, value.converter string by default."""
    return f"""version: 1
offset.storage.file.filename: {offsets}
pipelines:
  - id: {pipeline_id}
    topic: lines
    value.converter: {converter}
{extra_pipeline}    source:
      plugin: file
      config:
        file: {src}
        format: text
        follow: {'true' if follow else 'false'}
    sinks:
      - id: out
        plugin: file
        config:
          file: {dst}
{sink_config}"""


# -- running sluice ----------------------------------------------------------------------------

class Sluice:
    """Runs the sluice binary of SLUICE_BUILD with bounded waits."""

    def __init__(self, binary, env=None):
        self.binary = Path(binary)
        self.env = dict(os.environ if env is None else env)

    def run(self, *args, timeout=60, env=None, cwd=None):
        """Runs to completion; returns CompletedProcess (text). A run past its timeout fails the
        test with what it had printed, instead of hanging the suite."""
        e = dict(self.env)
        e.update(env or {})
        try:
            return subprocess.run([str(self.binary), *map(str, args)], env=e, cwd=cwd,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=scaled(timeout))
        except subprocess.TimeoutExpired as ex:
            raise AssertionError(
                f"sluice {' '.join(map(str, args))} did not end within {scaled(timeout)} s\n"
                f"stdout: {ex.stdout!r:.2000}\nstderr: {ex.stderr!r:.2000}") from None

    def spawn(self, *args, env=None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.Popen([str(self.binary), *map(str, args)], env=e,
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, **kw)


def wait_exit(proc, timeout):
    """Waits for a spawned process; kills it and fails the test after `timeout` (scaled)."""
    try:
        return proc.wait(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"process {proc.args} did not exit within {scaled(timeout)} s") \
            from None


def wait_until(predicate, timeout, interval=0.01, what="condition"):
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {scaled(timeout)} s waiting for {what}")


def file_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def status_kb(pid, field):
    """VmRSS / VmHWM of a live process in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    return int(ln.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def kill(proc, sig=signal.SIGKILL):
    if proc.poll() is None:
        proc.send_signal(sig)


# -- at-least-once checker -----------------------------------------------------------------------

def check_at_least_once(inp: bytes, out: bytes):
    """Asserts out == inp[:a] + inp[b:] for some b <= a, counted in whole lines: every input line is
    present, in order, and at most one contiguous stretch (inp[b:a]) appears twice. Input lines must
    be unique (ours are numbered). Returns the number of repeated lines."""
    assert inp.endswith(b"\n"), "input must end with a newline"
    assert out.endswith(b"\n") or not out, \
        f"output ends with a partial line: {out[-120:]!r}"
    il = inp.split(b"\n")[:-1]
    ol = out.split(b"\n")[:-1]
    dup = len(ol) - len(il)
    assert dup >= 0, (f"lines lost: output has {len(ol)} lines, input {len(il)}; "
                      f"first missing: {_first_missing(il, ol)!r}")
    a = 0  # length of the common prefix
    limit = min(len(il), len(ol))
    while a < limit and ol[a] == il[a]:
        a += 1
    if dup == 0:
        assert a == len(il), f"output differs from input at line {a + 1}: {ol[a]!r} != {il[a]!r}"
        return 0
    b = a - dup
    assert b >= 0, (f"output has {dup} extra lines but only {a} lines match the input's start; "
                    f"line {a + 1} of the output is {ol[a] if a < len(ol) else None!r}")
    rest_ok = ol[a:] == il[b:]
    if not rest_ok:
        j = next(i for i, (x, y) in enumerate(zip(ol[a:], il[b:])) if x != y) \
            if any(x != y for x, y in zip(ol[a:], il[b:])) else min(len(ol) - a, len(il) - b)
        raise AssertionError(
            f"after the first {a} lines the output should replay input lines {b + 1}..{a} once and "
            f"continue in order, but output line {a + j + 1} is "
            f"{ol[a + j] if a + j < len(ol) else None!r}, expected "
            f"{il[b + j] if b + j < len(il) else None!r}")
    return dup


def _first_missing(il, ol):
    s = set(ol)
    return next((x for x in il if x not in s), None)


class Background:
    """`sluice run CFG` in the background with its stderr in a file under tmp (readable while it
    runs); stop() sends SIGTERM and returns the exit status, kill() is for clean-up."""

    def __init__(self, sluice, tmp, cfg):
        self.err_path = tmp / f"{Path(cfg).stem}.{time.monotonic_ns()}.stderr"
        self.err = open(self.err_path, "wb")
        self.proc = sluice.spawn("run", cfg, stderr=self.err)

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        return self.err_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(self.proc, 30)
        self.err.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.err.closed:
            self.err.close()
