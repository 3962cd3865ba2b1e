"""What the fixtures of tests/services/*.sh servers share: a temporary directory of the test's own,
the script's start/stop verbs, the KEY=value facts it prints, and removal at the end."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sluicetest import REPO, register_secret, scaled


class ScriptService:
    """Subclasses set NAME (tests/services/NAME.sh), PREFIX (of the temporary directory) and
    CLOSE (the verb that stops the server and removes what lies outside the directory)."""
    NAME = PREFIX = CLOSE = None

    def __init__(self):
        self.script = REPO / "tests" / "services" / f"{self.NAME}.sh"
        self.dir = Path(tempfile.mkdtemp(prefix=self.PREFIX))
        self.env = {}
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def run(self, *args, timeout):
        r = subprocess.run([str(self.script), *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"{self.NAME}.sh {' '.join(map(str, args[:2]))} failed "
                               f"({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def start(self):
        out = self.run("start", self.dir, timeout=scaled(120))
        self.env = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
        for k, v in self.env.items():  # for the canary scan (sluicetest.leaks)
            if "PASSWORD" in k or ("PASSPHRASE" in k and not k.endswith("_FILE")):
                register_secret(v)
        return self

    def stop(self):
        self.run("stop", self.dir, timeout=60)

    def close(self):
        try:
            self.run(self.CLOSE, self.dir, timeout=60)
        finally:
            if not os.environ.get("SLUICE_KEEP_SERVICES"):
                shutil.rmtree(self.dir, ignore_errors=True)
