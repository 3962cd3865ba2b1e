"""A throwaway MariaDB server (tests/services/mariadb.sh) as a pytest fixture.

    def test_x(mariadb):
        mariadb.port, .cdc_user, .cdc_password, .app_user, ...
        mariadb.sql("CREATE DATABASE d")          # as root, tab-separated output
        mariadb.stop(); mariadb.start()            # the same port, data and binlog
        mariadb.kill(); mariadb.start()            # a crash and recovery

The server is stopped and its directory removed when the test ends, whatever happened."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sluicetest import REPO, scaled

SCRIPT = REPO / "tests" / "services" / "mariadb.sh"


def _run(*args, timeout):
    r = subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"mariadb.sh {' '.join(map(str, args[:2]))} failed ({r.returncode}):\n"
                           f"{r.stdout}\n{r.stderr}")
    return r.stdout


class MariaDB:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-mariadb."))
        self.env = {}
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self):
        out = _run("start", self.dir, timeout=scaled(120))
        self.env = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
        return self

    def stop(self):
        _run("stop", self.dir, timeout=60)

    def kill(self):
        _run("kill", self.dir, timeout=60)

    def sql(self, statement, timeout=60):
        """Runs SQL as root; returns the rows of the last result as lists of strings."""
        out = _run("sql", self.dir, statement, timeout=timeout)
        lines = out.splitlines()
        return [ln.split("\t") for ln in lines[1:]] if lines else []

    def close(self):
        try:
            _run("stop", self.dir, timeout=60)
        finally:
            if not os.environ.get("SLUICE_KEEP_SERVICES"):
                shutil.rmtree(self.dir, ignore_errors=True)

    host = property(lambda self: self.env["MYSQL_HOST"])
    port = property(lambda self: int(self.env["MYSQL_PORT"]))
    socket = property(lambda self: self.env["MYSQL_SOCKET"])
    root_user = property(lambda self: self.env["MYSQL_ROOT_USER"])
    root_password = property(lambda self: self.env["MYSQL_ROOT_PASSWORD"])
    cdc_user = property(lambda self: self.env["MYSQL_CDC_USER"])
    cdc_password = property(lambda self: self.env["MYSQL_CDC_PASSWORD"])
    app_user = property(lambda self: self.env["MYSQL_APP_USER"])
    app_password = property(lambda self: self.env["MYSQL_APP_PASSWORD"])
    server_id = property(lambda self: int(self.env["MYSQL_SERVER_ID"]))
    log = property(lambda self: Path(self.env["MYSQL_LOG"]))


@pytest.fixture
def mariadb():
    """A fresh MariaDB of the test's own (started in about a second)."""
    m = MariaDB()
    yield m
    m.close()
