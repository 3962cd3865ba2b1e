"""pipelines/quickstart.yaml, as scripts/quickstart runs it: lints clean, and records flow to the
console and to the file under SLUICE_STATE_DIR until SIGINT, which ends the run with 0."""
import json
import signal
import subprocess

import pytest

from sluicetest import REPO, kill, wait_exit, wait_until

QUICKSTART = REPO / "pipelines" / "quickstart.yaml"
SAMPLE = REPO / "pipelines" / "data" / "quickstart.jsonl"


@pytest.mark.asan
def test_quickstart_lints(sluice, tmp):
    r = sluice.run("lint", QUICKSTART, env={"SLUICE_STATE_DIR": str(tmp)}, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.asan
def test_quickstart_flows_until_sigint(sluice, tmp):
    sample = [json.loads(ln) for ln in SAMPLE.read_text().splitlines()]
    archive = tmp / "iotluzdatos.jsonl"
    proc = sluice.spawn("run", QUICKSTART, env={"SLUICE_STATE_DIR": str(tmp)},
                        stdout=subprocess.PIPE)
    try:
        def archived():
            return archive.exists() and archive.read_text().count("\n") >= len(sample)
        # The file sink flushes at least every offset.flush.interval.ms; give it a bounded while.
        wait_until(lambda: archived() or proc.poll() is not None, 30,
                   what="the quickstart's file sink to receive the sample")
        assert proc.poll() is None, "the quickstart source follows its file: sluice must keep running"
        proc.send_signal(signal.SIGINT)
        rc = wait_exit(proc, 30)
    finally:
        kill(proc)
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode(errors="replace")
    assert rc == 0, f"SIGINT: exit {rc}\n{err[-3000:]}"
    shown = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
    assert len(shown) == len(sample), out
    for rec, src in zip(shown, sample):
        assert rec["origin"] == "quickstart"
        assert {k: rec[k] for k in src} == src
    assert (tmp / "offsets.json").is_file(), "positions were not stored under SLUICE_STATE_DIR"
    assert not (REPO / "pipelines" / "offsets.json").exists()
