"""A throwaway OpenSSH sshd with internal-sftp (tests/services/sftp.sh) as a pytest fixture.

    def test_x(sftp_server):
        sftp_server.port, .user, .key, .password, .host_key_sha256, .known_hosts, .root ...
        sftp_server.stop(); sftp_server.start()   # the same port, host key and files

The server is stopped and its chroot removed when the test ends, whatever happened."""
from pathlib import Path

import pytest

from scriptservice import ScriptService


class SftpServer(ScriptService):
    NAME, PREFIX, CLOSE = "sftp", "sluice-sftp.", "clean"

    host = property(lambda self: self.env["SFTP_HOST"])
    port = property(lambda self: int(self.env["SFTP_PORT"]))
    user = property(lambda self: self.env["SFTP_USER"])
    password = property(lambda self: self.env["SFTP_PASSWORD"])
    key = property(lambda self: self.env["SFTP_KEY"])
    key_with_passphrase = property(lambda self: self.env["SFTP_KEY_PASSPHRASE_FILE"])
    passphrase = property(lambda self: self.env["SFTP_KEY_PASSPHRASE"])
    host_key_sha256 = property(lambda self: self.env["SFTP_HOST_KEY_SHA256"])
    known_hosts = property(lambda self: self.env["SFTP_KNOWN_HOSTS"])
    root = property(lambda self: Path(self.env["SFTP_ROOT"]))          # the chroot, "/" on the server
    working_dir = property(lambda self: self.env["SFTP_WORKING_DIR"])  # "/upload", writable
    log = property(lambda self: Path(self.env["SFTP_LOG"]))

    def logins(self):
        """Number of successful logins so far (sshd's log)."""
        return sum(1 for ln in self.log.read_text(errors="replace").splitlines()
                   if ln.startswith("Accepted "))


@pytest.fixture
def sftp_server():
    """A fresh sshd of the test's own (started in well under a second)."""
    s = SftpServer()
    yield s
    s.close()
