"""`sluice run` as a worker with its REST API on a free loopback port (issue #17), for the tests of
/metrics and of `sluice connectors`.

    with Worker(sluice, tmp, cfg) as w:
        w.url                   # "http://127.0.0.1:<port>", from the line "REST API listening on ..."
        w.get("/metrics")       # (status, content type, body text)
        w.stderr()
"""
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from sluicetest import wait_exit, wait_until

LISTENING = re.compile(r"REST API listening on (https?://\S+)")


class Worker:
    def __init__(self, sluice, tmp, cfg, *extra):
        self.err_path = Path(tmp) / f"{Path(cfg).stem}.{time.monotonic_ns()}.stderr"
        self.err = open(self.err_path, "wb")
        # port 0: the listener takes a free port and says which
        self.proc = sluice.spawn("run", "--listeners", "http://127.0.0.1:0", *extra, cfg,
                                 stderr=self.err)
        self.url = None
        try:
            wait_until(self._listening, 30, 0.05, "the line 'REST API listening on ...'")
        except BaseException:
            self.kill()
            raise

    def _listening(self):
        m = LISTENING.search(self.stderr())
        assert m or self.proc.poll() is None, f"sluice run exited:\n{self.stderr()}"
        self.url = m.group(1).rstrip("/") if m else None
        return self.url is not None

    @property
    def hostport(self):
        return self.url.split("://", 1)[1]

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        return self.err_path.read_text(errors="replace")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = wait_exit(self.proc, 30)
        self.err.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.err.closed:
            self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0]:
            self.kill()
        else:
            assert self.stop() == 0, self.stderr()
