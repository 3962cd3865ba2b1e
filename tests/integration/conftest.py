"""Fixtures for sluice's end-to-end tests. SLUICE_BUILD names the build directory to test
(default: build, relative to the repository root)."""
import os
import shutil
import sys
import tempfile

import pytest

import sluicetest

# `sluice run` serves its REST API on 127.0.0.1:8083 by default: concurrent runs of the suite would
# fight over that port, so every run of the session takes a free port instead (tests that need the
# API read the port from the "REST API listening on" line).
os.environ["SLUICE_LISTENERS"] = "http://127.0.0.1:0"
from sftptest import sftp_server  # noqa: F401  (the sftp_server fixture)
from mariadbtest import mariadb  # noqa: F401  (the mariadb fixture)
from prometheustest import prometheus  # noqa: F401  (the prometheus fixture)
from s3test import s3  # noqa: F401  (the s3 fixture)


@pytest.fixture(scope="session")
def build():
    return sluicetest.build_dir()


@pytest.fixture(scope="session")
def sluice_bin(build):
    binary = build / "sluice"
    assert binary.is_file() and os.access(binary, os.X_OK), \
        f"{binary} is not built: run meson setup/ninja first (SLUICE_BUILD={build})"
    return binary


@pytest.fixture
def tmp(tmp_path):
    """A fresh directory per test."""
    return tmp_path


@pytest.fixture
def sluice(sluice_bin):
    """sluice runner with a clean plugin path (tests that need SLUICE_PLUGIN_PATH set it)."""
    env = dict(os.environ)
    env.pop("SLUICE_PLUGIN_PATH", None)
    return sluicetest.Sluice(sluice_bin, env)


@pytest.fixture(scope="session")
def abi_dir(build):
    d = build / "tests" / "abi"
    assert d.is_dir(), f"{d} is missing: the ABI fixtures are built by meson (tests/abi)"
    return d


@pytest.fixture(scope="session")
def plugin_names(sluice_bin):
    """Names of the plugins `sluice plugins list` finds in the build tree."""
    s = sluicetest.Sluice(sluice_bin)
    r = s.run("plugins", "list", timeout=30)
    assert r.returncode == 0, r.stderr
    names = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    assert names, "plugins list printed no plugin"
    return names


def pytest_configure(config):
    """The session's capture directory (sluicetest.capture): every run's output, for the canary
    scan at the end. A directory given in SLUICE_TEST_CAPTURE is used as it is (and kept)."""
    if not os.environ.get("SLUICE_TEST_CAPTURE"):
        config._sluice_capture_own = tempfile.mkdtemp(prefix="sluice-capture.")
        os.environ["SLUICE_TEST_CAPTURE"] = config._sluice_capture_own


def pytest_collection_modifyitems(session, config, items):
    """test_canary.py's check of the whole session's output runs last, to see all of it (and be
    counted in the JUnit report scripts/test reads)."""
    last = [i for i in items if i.originalname == "test_no_secret_in_the_session_output"]
    items[:] = [i for i in items if i not in last] + last


def pytest_sessionfinish(session, exitstatus):
    """No secret of the suite in any output sluice gave during the session (its stdout and
    stderr, the files it wrote in the tests' directories), nor in docs/. The same check as the
    last test, again after every fixture's teardown, and whatever tests were selected."""
    where = sluicetest.capture_dir()
    if where is None or not where.is_dir():
        return
    found = sluicetest.leaks(where, roots=sluicetest.scan_roots(session.config))
    if found:
        msg = ("canary check: a secret of the test suite appeared in sluice's output or the docs "
               f"(captured output kept in {where}):\n  " + "\n  ".join(found[:50]))
        print("\n" + msg, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    own = getattr(session.config, "_sluice_capture_own", None)
    if own and not os.environ.get("SLUICE_KEEP_SERVICES"):
        shutil.rmtree(own, ignore_errors=True)


def pytest_report_header(config):
    b = sluicetest.build_dir()
    return f"sluice under test: {b / 'sluice'} (timeout scale {sluicetest.TIMEOUT_SCALE})"



# -- real services (started on first use, stopped at the end of the session) --------------------

@pytest.fixture(scope="session")
def kafka():
    """A real Apache Kafka broker shared by the session: .bootstrap, .topics(...), .dir."""
    import services
    k = services.Kafka()
    yield k
    k.close()


@pytest.fixture
def kafka_own():
    """A broker of the test's own, for tests that stop and restart it (.stop(), .start())."""
    import services
    k = services.Kafka()
    yield k
    k.close()


@pytest.fixture(scope="module")
def connect(kafka):
    """A real Kafka Connect standalone worker on the session's broker, shared by a module's tests
    (its JVM takes 10-20 s to start): .url of its REST API, .log. The FileStream connectors are
    installed; each test names its connectors and topics its own."""
    import services
    c = services.Connect(kafka.bootstrap)
    yield c
    c.close()


@pytest.fixture(scope="module")
def sluice_rest(sluice_bin, kafka, tmp_path_factory):
    """`sluice run --listeners http://127.0.0.1:0` on the session's broker with no pipeline, shared
    by a module's tests: .url of its REST API (from its log line), .output()."""
    import resttest
    w = resttest.start_sluice_worker(sluice_bin, tmp_path_factory.mktemp("sluice-rest"),
                                     kafka.bootstrap)
    yield w
    w.close()


@pytest.fixture(scope="session")
def schema_registry():
    """A real Confluent-compatible schema registry shared by the session: .url."""
    import services
    r = services.Registry()
    yield r
    r.close()


@pytest.fixture
def runs():
    """Background runs (sluicetest.Background) a test started: killed at its end, whatever
    happened. (test_kafka.py has its own.)"""
    started = []
    yield started
    for r in started:
        r.kill()
