"""A slow sink slows its source: memory stays bounded whatever the input size.

2,000,000 lines (200 MB) go file → console; the console writes into a pipe that this test first
reads very slowly, so the sink blocks. With a bounded buffer per pipeline (buffer.memory 1MiB) the
source must stop reading and the process's resident memory must stay far below the input size.
Then the pipe is drained at full speed and every line must arrive, in order."""
import hashlib
import os
import subprocess
import time

import pytest

from sluicetest import LINE_BYTES, scaled, status_kb, wait_exit, write_lines, write_yaml

LINES = 2_000_000
RSS_BOUND_KB = 40 * 1024


@pytest.mark.slow
def test_slow_sink_bounds_memory(sluice, tmp):
    src = tmp / "in.txt"
    write_lines(src, LINES)
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: slow
    topic: lines
    value.converter: string
    buffer.memory: 1MiB
    source:
      plugin: file
      config:
        file: {src}
        follow: false
    sinks:
      - id: screen
        plugin: console
        config:
          format: text
""")
    proc = sluice.spawn("run", "--quiet", cfg, stdout=subprocess.PIPE)
    fd = proc.stdout.fileno()
    got = hashlib.sha256()
    nbytes = 0
    peak_rss = 0
    samples = []

    def sample():
        nonlocal peak_rss
        hwm = status_kb(proc.pid, "VmHWM")
        rss = status_kb(proc.pid, "VmRSS")
        if hwm is not None:
            peak_rss = max(peak_rss, hwm)
            samples.append(rss)

    try:
        # Phase 1: ~4 s of a slow reader (4 KiB every 20 ms ≈ 200 KB/s against 200 MB of input).
        slow_until = time.monotonic() + 4.0
        while time.monotonic() < slow_until:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            got.update(chunk)
            nbytes += len(chunk)
            sample()
            time.sleep(0.02)
        slow_phase_bytes = nbytes
        assert proc.poll() is None, "sluice ended while its sink was blocked on a slow pipe"
        assert slow_phase_bytes < LINES * LINE_BYTES // 4, "the slow reader was not slow"
        rss_blocked = peak_rss
        # Phase 2: drain at full speed; every line must arrive.
        deadline = time.monotonic() + scaled(180)
        last_sample = 0.0
        while time.monotonic() < deadline:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            got.update(chunk)
            nbytes += len(chunk)
            if time.monotonic() - last_sample > 0.05:
                sample()
                last_sample = time.monotonic()
        rc = wait_exit(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 0, f"exit {rc}\n{err[-3000:]}"
    assert peak_rss > 0, "no memory sample was taken"
    print(f"peak RSS {peak_rss / 1024:.1f} MiB while blocked {rss_blocked / 1024:.1f} MiB; "
          f"{slow_phase_bytes} bytes read in the slow phase; {len(samples)} samples")
    assert rss_blocked < RSS_BOUND_KB, \
        f"RSS reached {rss_blocked / 1024:.1f} MiB while the sink was blocked (bound 40 MiB)"
    assert peak_rss < RSS_BOUND_KB, \
        f"peak RSS {peak_rss / 1024:.1f} MiB for a 200 MB input (bound 40 MiB)"
    assert nbytes == LINES * LINE_BYTES, \
        f"the console delivered {nbytes} bytes, expected {LINES * LINE_BYTES}"
    assert got.hexdigest() == want, "the console's lines differ from the input (order or content)"


@pytest.mark.tsan
def test_blocked_sink_then_drained_delivers_everything_in_order(sluice, tmp):
    """The same path at a size the ThreadSanitizer stage runs: 50,000 lines (5 MB) against a
    64 KiB buffer and a console blocked on a pipe that nobody reads for a second, so the source
    thread waits for room in the topic and the sink thread wakes it; then the pipe is drained and
    every line must arrive, in order. (No memory bound here: the sanitizer's own memory would
    hide it.)"""
    lines = 50_000
    src = tmp / "in.txt"
    write_lines(src, lines)
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: blocked
    topic: lines
    value.converter: string
    buffer.memory: 64KiB
    source:
      plugin: file
      config:
        file: {src}
        follow: false
    sinks:
      - id: screen
        plugin: console
        config:
          format: text
""")
    proc = sluice.spawn("run", "--quiet", cfg, stdout=subprocess.PIPE)
    got = hashlib.sha256()
    nbytes = 0
    try:
        time.sleep(scaled(1.0))
        assert proc.poll() is None, "sluice ended while its sink was blocked on a full pipe"
        deadline = time.monotonic() + scaled(120)
        while time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            got.update(chunk)
            nbytes += len(chunk)
        rc = wait_exit(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 0, f"exit {rc}\n{err[-3000:]}"
    assert nbytes == lines * LINE_BYTES, \
        f"the console delivered {nbytes} bytes, expected {lines * LINE_BYTES}"
    assert got.hexdigest() == want, "the console's lines differ from the input (order or content)"
