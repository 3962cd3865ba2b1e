"""file source → file sink, in-process, with value.converter string: bytes in == bytes out; a run
killed with SIGKILL and restarted loses nothing and keeps order; restarts resume from the stored
positions; SIGTERM drains and flushes."""
import hashlib
import os
import signal
import stat
import time

import pytest

from sluicetest import (LINE_BYTES, check_at_least_once, file_size, file_to_file_yaml, kill,
                        line, scaled, wait_exit, wait_until, write_lines, write_yaml)

MILLION = 1_000_000


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture
def million(tmp):
    src = tmp / "in.txt"
    assert write_lines(src, MILLION) == MILLION * LINE_BYTES
    return src


@pytest.mark.slow
def test_million_lines_byte_for_byte(sluice, tmp, million):
    dst = tmp / "out.txt"
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(million, dst, tmp / "offsets.json"))
    t0 = time.monotonic()
    r = sluice.run("run", "--quiet", cfg, timeout=180)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, f"exit {r.returncode}\nstderr:\n{r.stderr[-3000:]}"
    assert r.stdout == "", "no console sink: nothing may be printed on stdout"
    assert file_size(dst) == file_size(million), \
        f"output has {file_size(dst)} bytes, input {file_size(million)}"
    assert sha256(dst) == sha256(million), "output differs from input"
    print(f"1,000,000 lines file → file in {elapsed:.2f} s")


@pytest.mark.slow
def test_sigkill_midway_then_restart_loses_nothing(sluice, tmp, million):
    dst = tmp / "out.txt"
    offsets = tmp / "offsets.json"
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(million, dst, offsets))
    total = file_size(million)

    proc = sluice.spawn("run", "--quiet", cfg)
    # Kill once some output is there but well before the end.
    deadline = time.monotonic() + scaled(120)
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        size = file_size(dst)
        if size >= 64 * 1024:
            kill(proc, signal.SIGKILL)
            killed_at = size
            break
        time.sleep(0.0005)
    proc.wait(timeout=scaled(30))
    err = proc.stderr.read().decode(errors="replace")
    assert killed_at is not None, (
        f"the run ended (exit {proc.returncode}) before it could be killed mid-way: "
        f"output {file_size(dst)} of {total} bytes\n{err[-2000:]}")
    assert proc.returncode == -signal.SIGKILL
    after_kill = file_size(dst)
    assert after_kill < total, "the killed run had already written everything"

    # Restart: the rest arrives; at most one contiguous stretch is written twice.
    r = sluice.run("run", "--quiet", cfg, timeout=180)
    assert r.returncode == 0, f"restart: exit {r.returncode}\n{r.stderr[-3000:]}"
    dup = check_at_least_once(million.read_bytes(), dst.read_bytes())
    print(f"killed at {after_kill} bytes; {dup} lines replayed after restart")

    # A third run finds every position committed and adds nothing.
    before = sha256(dst)
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 0, f"third run: exit {r.returncode}\n{r.stderr[-3000:]}"
    assert sha256(dst) == before, "a third run wrote again what was already delivered"


@pytest.mark.asan
@pytest.mark.tsan
def test_restart_resumes_from_stored_position(sluice, tmp):
    src, dst, offsets = tmp / "in.txt", tmp / "out.txt", tmp / "offsets.json"
    write_lines(src, 1000)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(src, dst, offsets))

    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == src.read_bytes()
    assert offsets.is_file(), "the offsets file was not written"

    write_lines(src, 500, start=1000, mode="a")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    expected = "".join(line(i) for i in range(1500)).encode()
    out = dst.read_bytes()
    assert len(out) == len(expected), (
        f"after appending 500 lines and running again the output has {len(out) // LINE_BYTES} "
        f"lines, expected 1500 (the second run must add only the new lines)")
    assert out == expected

    # Nothing new: nothing added.
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == expected


@pytest.mark.asan
def test_offsets_option_overrides_yaml(sluice, tmp):
    src, dst = tmp / "in.txt", tmp / "out.txt"
    write_lines(src, 100)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(src, dst, tmp / "unused.json"))
    r = sluice.run("run", "--quiet", "--offsets", tmp / "cli.json", cfg, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tmp / "cli.json").is_file(), "--offsets PATH was not used for the positions"
    assert dst.read_bytes() == src.read_bytes()


@pytest.mark.asan
@pytest.mark.tsan
def test_sigterm_on_following_source_flushes_and_exits_0(sluice, tmp):
    src, dst, offsets = tmp / "in.txt", tmp / "out.txt", tmp / "offsets.json"
    write_lines(src, 1000)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(src, dst, offsets, follow=True))
    proc = sluice.spawn("run", "--quiet", cfg)
    try:
        time.sleep(scaled(1.0))
        assert proc.poll() is None, "a following source must keep sluice running"
        write_lines(src, 1000, start=1000, mode="a")  # the source follows the file as it grows
        time.sleep(scaled(2.0))
        assert proc.poll() is None, "a following source must keep sluice running"
        proc.send_signal(signal.SIGTERM)
        rc = wait_exit(proc, 30)
    finally:
        kill(proc)
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 0, f"SIGTERM: exit {rc}\n{err[-3000:]}"
    assert dst.read_bytes() == src.read_bytes(), \
        f"after SIGTERM the output has {file_size(dst) // LINE_BYTES} of 2000 lines"
    # The positions were committed: a restart adds nothing and is stopped the same way.
    proc = sluice.spawn("run", "--quiet", cfg)
    try:
        time.sleep(scaled(1.0))
        proc.send_signal(signal.SIGINT)
        rc = wait_exit(proc, 30)
    finally:
        kill(proc)
    assert rc == 0
    assert dst.read_bytes() == src.read_bytes(), "the restart after SIGTERM replayed lines"


@pytest.mark.asan
@pytest.mark.tsan
def test_progress_line_on_stderr_unless_quiet(sluice, tmp):
    src, dst = tmp / "in.txt", tmp / "out.txt"
    write_lines(src, 10)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(src, dst, tmp / "offsets.json",
                                                       follow=True, pipeline_id="meter42"))
    proc = sluice.spawn("run", cfg)
    try:
        time.sleep(7.0)  # "every few seconds": wall-clock, not scaled
        proc.send_signal(signal.SIGINT)
        rc = wait_exit(proc, 30)
    finally:
        kill(proc)
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 0, err
    assert any("meter42" in ln and any(c.isdigit() for c in ln) for ln in err.splitlines()), \
        f"no progress line naming the pipeline on stderr within 7 s:\n{err}"


def test_file_sink_mode(sluice, tmp):
    """file.mode: a file the sink creates gets exactly that mode, whatever the umask; a file that
    exists keeps its own; a mode that takes read or write from the owner is refused by lint."""
    src = tmp / "in.txt"
    write_lines(src, 10)
    new, old = tmp / "new.txt", tmp / "old.txt"
    old.write_text("")
    os.chmod(old, 0o600)
    for dst, offsets in ((new, "o1.json"), (old, "o2.json")):
        cfg = write_yaml(tmp / f"{dst.stem}.yaml", file_to_file_yaml(
            src, dst, tmp / offsets, sink_config="          file.mode: \"0640\"\n"))
        saved = os.umask(0o077)  # inherited by sluice: the mode must not depend on it
        try:
            r = sluice.run("run", "--quiet", cfg, timeout=60)
        finally:
            os.umask(saved)
        assert r.returncode == 0, r.stderr
        assert file_size(dst) == file_size(src)
    assert stat.S_IMODE(new.stat().st_mode) == 0o640, oct(new.stat().st_mode)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600, oct(old.stat().st_mode)
    bad = write_yaml(tmp / "bad.yaml", file_to_file_yaml(
        src, tmp / "x.txt", tmp / "o3.json", sink_config="          file.mode: \"0444\"\n"))
    r = sluice.run("lint", bad, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "file.mode: '0444' is not octal permissions" in r.stderr, r.stderr


def _switches(pid):
    """Context switches of every thread of pid so far (each is a wakeup of a sleeping thread or a
    preemption): {thread name: count}."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{t}/status") as f:
                n = sum(int(ln.split()[1]) for ln in f if "ctxt_switches" in ln)
        except OSError:
            continue  # the thread ended
        out[name] = out.get(name, 0) + n
    return out


def test_idle_following_source_sleeps_until_the_file_changes(sluice, tmp):
    """A running worker whose followed file does not change sleeps: its threads wake on data, not
    on a clock (the source waits on inotify, the sink on its topic, the supervisor and the signal
    thread until something happens; only the dashboard's 1 Hz history remains). Lines appended,
    a rotation and a SIGTERM are still acted on at once, and the positions reach the disk before
    it sleeps (a SIGKILL then replays nothing)."""
    src, dst, offsets = tmp / "in.txt", tmp / "out.txt", tmp / "offsets.json"
    write_lines(src, 10)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(src, dst, offsets, follow=True))
    proc = sluice.spawn("run", "--quiet", cfg)
    try:
        wait_until(lambda: file_size(dst) == 10 * LINE_BYTES, scaled(10), what="the first lines")
        time.sleep(1.0)  # the last commit and flush
        before = _switches(proc.pid)
        time.sleep(3.0)
        after = _switches(proc.pid)
        woke = {n: after.get(n, 0) - before.get(n, 0) for n in after}
        # Before: every thread but the listener's ticked at 10 Hz (about 120 in 3 s).
        assert sum(woke.values()) <= 10, f"an idle worker woke in 3 s: {woke}"
        assert woke.get("history", 0) <= 5, woke
        write_lines(src, 10, start=10, mode="a")
        wait_until(lambda: file_size(dst) == 20 * LINE_BYTES, scaled(5), what="appended lines")
        os.rename(src, tmp / "in.txt.1")  # rotation: the new file is read from its start
        write_lines(src, 5, start=20)
        wait_until(lambda: file_size(dst) == 25 * LINE_BYTES, scaled(5), what="the rotated file")
        # Idle again after offset.flush.interval.ms (1 s): the positions are on disk, so a crash
        # now replays nothing (the source sleeps only once they are written out).
        time.sleep(2.5)
        kill(proc)
        proc.wait(timeout=30)  # its offsets lock goes with it
    finally:
        kill(proc)
    assert dst.read_bytes() == "".join(line(i) for i in range(25)).encode()
    proc = sluice.spawn("run", "--quiet", cfg)
    try:
        time.sleep(scaled(1.5))
        assert dst.read_bytes() == "".join(line(i) for i in range(25)).encode(), \
            "the restart after an idle SIGKILL replayed lines: the last positions were not flushed"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = wait_exit(proc, 30)
        took = time.monotonic() - t0
    finally:
        kill(proc)
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 0, err[-3000:]
    assert took < scaled(3.0), f"SIGTERM of an idle worker took {took:.1f} s"
