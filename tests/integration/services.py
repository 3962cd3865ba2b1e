"""Real services for the integration tests: an Apache Kafka broker, a Confluent-compatible schema
registry (Apicurio) and a Kafka Connect standalone worker, started by tests/services/*.sh on free loopback ports in temporary directories
and stopped afterwards. conftest.py turns them into fixtures; a test that asks for one starts it."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sluicetest import REPO, scaled

SERVICES = REPO / "tests" / "services"


def _script(name, *args, timeout):
    r = subprocess.run([str(SERVICES / name), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(map(str, args))} failed ({r.returncode}):\n"
                           f"{r.stdout}\n{r.stderr}")
    return r.stdout


def _value(out, key):
    for ln in out.splitlines():
        if ln.startswith(key + "="):
            return ln.split("=", 1)[1].strip()
    raise RuntimeError(f"no {key}= in:\n{out}")


class Kafka:
    """A single-node KRaft broker. `stop()` and `start()` may be called by fault tests: the broker
    comes back on the same port with the same data."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-kafka."))
        self.bootstrap = None
        self.start()

    def start(self):
        out = _script("kafka.sh", "start", self.dir, timeout=scaled(180))
        self.bootstrap = _value(out, "KAFKA_BOOTSTRAP")
        return self

    def stop(self):
        _script("kafka.sh", "stop", self.dir, timeout=120)

    def topics(self, *args):
        """kafka-topics (TopicCommand) against this broker."""
        return _script("kafka.sh", "topics", self.dir, *args, timeout=scaled(120))

    def close(self):
        try:
            self.stop()
        finally:
            if not os.environ.get("SLUICE_KEEP_SERVICES"):
                shutil.rmtree(self.dir, ignore_errors=True)


class Registry:
    """Apicurio Registry's Confluent-compatible API; `url` ends in /apis/ccompat/v7."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-registry."))
        out = _script("registry.sh", "start", self.dir, timeout=scaled(240))
        self.url = _value(out, "SCHEMA_REGISTRY_URL")

    def close(self):
        try:
            _script("registry.sh", "stop", self.dir, timeout=120)
        finally:
            if not os.environ.get("SLUICE_KEEP_SERVICES"):
                shutil.rmtree(self.dir, ignore_errors=True)


class Connect:
    """A real Kafka Connect standalone worker (tests/services/connect.sh) against `bootstrap`, with
    no connector: `url` is its REST API (http://127.0.0.1:<port>), `log` its log file."""

    def __init__(self, bootstrap):
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-connect."))
        try:
            out = _script("connect.sh", "start", self.dir, bootstrap, timeout=scaled(240))
        except BaseException:
            self.close()
            raise
        self.url = _value(out, "CONNECT_URL")
        self.log = Path(_value(out, "CONNECT_LOG"))
        self.version = _value(out, "CONNECT_VERSION")

    def close(self):
        try:
            _script("connect.sh", "stop", self.dir, timeout=120)
        finally:
            if not os.environ.get("SLUICE_KEEP_SERVICES"):
                shutil.rmtree(self.dir, ignore_errors=True)
