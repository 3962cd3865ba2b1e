"""The canary check: no secret of the suite in sluice's output over the whole session (the last
test, and conftest.py's pytest_sessionfinish), and the scan is honest: it finds a secret that
sluice prints, through each way the suite captures output."""
import subprocess
import tempfile
from pathlib import Path

import pytest

import sluicetest
from sluicetest import CANARY, Sluice, leaks, register_secret, write_yaml


@pytest.fixture
def outside():
    """A directory outside the tests' ones (which the session's scan reads): for leaks on
    purpose."""
    with tempfile.TemporaryDirectory(prefix="sluice-canary.") as d:
        yield Path(d)


@pytest.mark.asan
def test_the_scan_finds_a_printed_secret(sluice_bin, tmp, outside):
    cap = outside / "capture"  # a capture directory of its own
    cap.mkdir()
    own = Sluice(sluice_bin, capture=cap)
    assert leaks(cap) == []
    # sluice echoes an unknown key: a canary written as one shows up in the error
    cfg = write_yaml(tmp / "leak.yaml", f"version: 1\nkey-{CANARY}: 1\npipelines: []\n")
    r = own.run("lint", cfg, timeout=30)
    assert CANARY in r.stderr, r.stderr
    found = leaks(cap)
    assert len(found) == 1 and "test_the_scan_finds_a_printed_secret" in found[0], found
    # a spawned run whose stderr the test reads (a pipe) and one that writes to a file
    p = own.spawn("run", cfg)
    _, err = p.communicate(timeout=30)
    assert CANARY.encode() in err, err
    with open(outside / "run.stderr", "wb") as f:
        p = own.spawn("run", cfg, stderr=f)
        p.wait(timeout=30)
    assert any(str(outside / "run.stderr") in x for x in leaks(cap)), leaks(cap)
    # a file sluice wrote in a test's directory (a dead letter, a sink's output)
    (outside / "out").mkdir()
    (outside / "out" / "dlq.json").write_text(f"exception: {CANARY}\n")
    assert leaks(cap, roots=[outside / "out"])[-1].endswith("dlq.json: CANARY")
    # a secret without the marker, registered by a fixture (a service's random password)
    other = outside / "capture2"
    other.mkdir()
    cfg = write_yaml(tmp / "leak2.yaml", "version: 1\nkey-Xy7Qk2mZ: 1\npipelines: []\n")
    Sluice(sluice_bin, capture=other).run("lint", cfg, timeout=30)
    assert leaks(other) == []
    register_secret("Xy7Qk2mZ", other)
    assert leaks(other) and "registered secret" in leaks(other)[0]


def test_the_session_is_captured(sluice):
    """The session's capture directory exists and receives this test's run."""
    where = sluicetest.capture_dir()
    assert where is not None and where.is_dir()
    sluice.run("version", timeout=10)
    assert any(p.read_bytes().count(b"sluice version") for p in where.glob("*.out"))


def test_docs_hold_no_secret(tmp):
    assert leaks(tmp, roots=[sluicetest.REPO / "docs"]) == []


def test_spawned_output_reaches_the_test_whole(sluice, tmp):
    """The copy made for the scan neither loses nor delays what the test reads."""
    cfg = write_yaml(tmp / "bad.yaml", "version: 1\nnope: 1\npipelines: []\n")
    p = sluice.spawn("run", cfg, stdout=subprocess.PIPE)
    out, err = p.communicate(timeout=30)
    assert p.returncode != 0 and b"unknown key 'nope'" in err, err


@pytest.mark.asan
def test_no_secret_in_the_session_output(request):
    """Runs last (conftest.py): no secret in any output of sluice during this session."""
    where = sluicetest.capture_dir()
    assert where is not None and where.is_dir()
    found = leaks(where, roots=sluicetest.scan_roots(request.config))
    assert not found, ("a secret of the test suite appeared in sluice's output (captured output "
                       f"in {where}):\n  " + "\n  ".join(found[:50]))
