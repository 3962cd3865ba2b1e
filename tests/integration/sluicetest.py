"""Helpers shared by the integration tests: deterministic input, YAML files, running sluice with
bounded waits, and the at-least-once output checker. Imported by conftest.py and the tests."""
import os
import signal
import subprocess
import threading
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


# -- canary secrets ----------------------------------------------------------------------------
# Every secret the suite uses holds CANARY (the services' passwords, the tests' own), and the
# fixtures register the secrets they did not choose (tests/services/*.sh: SFTP_PASSWORD). Every
# run of sluice (Sluice.run, Sluice.spawn) and of the test tools that print what the core prints
# is captured under the session's capture directory (SLUICE_TEST_CAPTURE, set by conftest.py), and
# conftest.py's pytest_sessionfinish fails the session if a secret appears in any of it, or in
# docs/ (test_canary.py proves that the scan finds a leak).

CANARY = "sluiceCANARY"


def capture_dir():
    d = os.environ.get("SLUICE_TEST_CAPTURE")
    return Path(d) if d else None


def _capture_name():
    test = os.environ.get("PYTEST_CURRENT_TEST", "outside-a-test").rsplit(" (", 1)[0]
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in test)[-200:] + ".out"


def capture(what, data, where=None):
    """Appends `data` (str or bytes), output of `what`, to the current test's capture file."""
    d = where or capture_dir()
    if d is None or not data:
        return
    if isinstance(data, str):
        data = data.encode(errors="replace")
    with open(Path(d) / _capture_name(), "ab") as f:
        f.write(f"\n==== {what}\n".encode() + data)


def capture_file(path, where=None):
    """Registers a file sluice writes its output to (scanned at the end of the session)."""
    d = where or capture_dir()
    if d is not None:
        with open(Path(d) / "files.list", "a") as f:
            f.write(f"{Path(path).resolve()}\t{_capture_name()}\n")


def register_secret(value, where=None):
    """A secret the suite uses but did not choose (no CANARY in it): scanned for as it is."""
    d = where or capture_dir()
    if d is not None and value and len(value) >= 6:
        with open(Path(d) / "secrets.list", "a") as f:
            f.write(value.replace("\n", " ") + "\n")


CAPTURE_LIMIT = 32 << 20  # bytes kept of one stream (data streams of the slow tests are larger)


def _tee(src, dst_fd, what, where):
    """Copies a child's pipe to the capture file and, when dst_fd is set, on to the test."""
    path = Path(where) / _capture_name()
    kept = 0
    with open(path, "ab") as cap:
        cap.write(f"\n==== {what}\n".encode())
        while True:
            chunk = os.read(src.fileno(), 65536)
            if not chunk:
                break
            if kept < CAPTURE_LIMIT:
                cap.write(chunk[:CAPTURE_LIMIT - kept])
                cap.flush()
                kept += len(chunk)
            while dst_fd is not None and chunk:
                try:
                    chunk = chunk[os.write(dst_fd, chunk):]
                except OSError:  # the test closed its end
                    os.close(dst_fd)
                    dst_fd = None
    src.close()
    if dst_fd is not None:
        os.close(dst_fd)


# Files under the scanned roots that hold secrets on purpose: the tests' configuration, and the
# real services' own state (their passwords, a database's binlog) that scripts/quickstart --full
# keeps under its state/services/ directory: neither is sluice's output.
CONFIG_SUFFIXES = (".yaml", ".yml", ".properties")
SERVICE_DIR = "services"


def scan_roots(config):
    """What the canary scan reads besides the captured output: docs/, and what sluice wrote into
    the tests' directories (sink outputs, dead letters, state files) of this pytest session."""
    roots = [REPO / "docs"]
    tpf = getattr(config, "_tmp_path_factory", None)
    if tpf is not None and getattr(tpf, "_basetemp", None) is not None:
        roots.append(tpf._basetemp)
    return roots


def leaks(where, roots=()):
    """The places under the capture directory `where` (and the files under `roots` but their
    configuration files) that hold CANARY or a registered secret: "file (test): what" strings."""
    where = Path(where)
    secrets = [CANARY]
    sl = where / "secrets.list"
    if sl.is_file():
        secrets += [s for s in sl.read_text().splitlines() if s]
    files = [(p, p.name) for p in sorted(where.glob("*.out"))]
    fl = where / "files.list"
    if fl.is_file():
        for ln in fl.read_text().splitlines():
            path, _, test = ln.partition("\t")
            files.append((Path(path), test))
    for root in roots:
        files += [(p, p.name) for p in sorted(Path(root).rglob("*"))
                  if p.is_file() and not p.is_symlink() and p.suffix not in CONFIG_SUFFIXES
                  and SERVICE_DIR not in p.relative_to(root).parts[:-1]
                  and p.stat().st_size < 64 << 20]
    found = []
    for path, test in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for sec in secrets:
            if sec.encode() in data:
                kind = "CANARY" if sec == CANARY else "a registered secret"
                found.append(f"{path}{'' if test == path.name else f' ({test})'}: {kind}")
                break
    return found


# -- running sluice ----------------------------------------------------------------------------

class Sluice:
    """Runs the sluice binary of SLUICE_BUILD with bounded waits."""

    def __init__(self, binary, env=None, capture=None):
        self.binary = Path(binary)
        self.env = dict(os.environ if env is None else env)
        self.capture = capture  # a capture directory of its own (test_canary.py); None: the session's

    def run(self, *args, timeout=60, env=None, cwd=None):
        """Runs to completion; returns CompletedProcess (text). A run past its timeout fails the
        test with what it had printed, instead of hanging the suite."""
        e = dict(self.env)
        e.update(env or {})
        what = f"sluice {' '.join(map(str, args))}"
        try:
            r = subprocess.run([str(self.binary), *map(str, args)], env=e, cwd=cwd,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=scaled(timeout))
            capture(what, r.stdout + r.stderr, self.capture)
            return r
        except subprocess.TimeoutExpired as ex:
            capture(what, b"".join(x if isinstance(x, bytes) else (x or "").encode()
                                   for x in (ex.stdout, ex.stderr)), self.capture)
            raise AssertionError(
                f"sluice {' '.join(map(str, args))} did not end within {scaled(timeout)} s\n"
                f"stdout: {ex.stdout!r:.2000}\nstderr: {ex.stderr!r:.2000}") from None

    def spawn(self, *args, env=None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw):
        """Popen; its output is captured too: a pipe the test reads goes through a thread that
        copies it, output thrown away is kept, a file is scanned at the end of the session."""
        e = dict(self.env)
        e.update(env or {})
        where = self.capture or capture_dir()
        text = kw.get("text") or kw.get("universal_newlines") or kw.get("encoding")
        tee = {}
        for name, dest in (("stdout", stdout), ("stderr", stderr)):
            if where is None or text:
                continue
            if dest in (subprocess.PIPE, subprocess.DEVNULL):
                tee[name] = dest
            elif hasattr(dest, "name") and isinstance(dest.name, (str, Path)):
                capture_file(dest.name, where)
        if "stdout" in tee:
            stdout = subprocess.PIPE
        if "stderr" in tee:
            stderr = subprocess.PIPE
        proc = subprocess.Popen([str(self.binary), *map(str, args)], env=e,
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, **kw)
        what = f"sluice {' '.join(map(str, args))}"
        for name, dest in tee.items():
            src, dst = getattr(proc, name), None
            if dest == subprocess.PIPE:
                r, dst = os.pipe()
                setattr(proc, name, open(r, "rb"))
            else:
                setattr(proc, name, None)
            threading.Thread(target=_tee, args=(src, dst, f"{what} ({name})", where),
                             daemon=True).start()
        return proc


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
