"""A throwaway MariaDB server (tests/services/mariadb.sh) as a pytest fixture.

    def test_x(mariadb):
        mariadb.port, .cdc_user, .cdc_password, .app_user, ...
        mariadb.sql("CREATE DATABASE d")          # as root, tab-separated output
        mariadb.stop(); mariadb.start()            # the same port, data and binlog
        mariadb.kill(); mariadb.start()            # a crash and recovery

The server is stopped and its directory removed when the test ends, whatever happened."""
from pathlib import Path

import pytest

from scriptservice import ScriptService


class MariaDB(ScriptService):
    NAME, PREFIX, CLOSE = "mariadb", "sluice-mariadb.", "stop"

    def kill(self):
        self.run("kill", self.dir, timeout=60)

    def sql(self, statement, timeout=60):
        """Runs SQL as root; returns the rows of the last result as lists of strings."""
        out = self.run("sql", self.dir, statement, timeout=timeout)
        lines = out.splitlines()
        return [ln.split("\t") for ln in lines[1:]] if lines else []

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
