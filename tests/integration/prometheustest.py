"""A throwaway Prometheus server (tests/services/prometheus.sh) as a pytest fixture, and its HTTP
API as the tests need it.

    def test_x(prometheus):
        p = prometheus("127.0.0.1:8083")        # scrapes http://127.0.0.1:8083/metrics every 1 s
        p.query('rate(sluice_source_record_write_total[10s])')   # the result vector
        p.check_metrics(text)                    # promtool check metrics: (returncode, output)

Every server started is stopped when the test ends, whatever happened."""
import json
import subprocess
import urllib.parse
import urllib.request

import pytest

from scriptservice import ScriptService
from sluicetest import REPO, scaled

SCRIPT = REPO / "tests" / "services" / "prometheus.sh"


class Prometheus(ScriptService):
    NAME, PREFIX, CLOSE = "prometheus", "sluice-prometheus.", "stop"

    def __init__(self, target, interval="1s"):
        self.target, self.interval = target, interval
        super().__init__()

    def start(self):
        out = self.run("start", self.dir, self.target, self.interval, timeout=scaled(90))
        self.env = dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)
        return self

    url = property(lambda self: self.env["PROMETHEUS_URL"])

    def api(self, path, **params):
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{q}", timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        """An instant query: the result vector, [{"metric": {...}, "value": [t, "v"]}, ...]."""
        return self.api("query", query=expr)["result"]

    def targets(self):
        return self.api("targets")["activeTargets"]


def check_metrics(text):
    """promtool check metrics on an exposition: (returncode, what it printed)."""
    r = subprocess.run([str(SCRIPT), "check-metrics", "-"], input=text, capture_output=True,
                       text=True, timeout=scaled(60))
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def prometheus():
    """prometheus(target, interval="1s") starts a server of the test's own scraping target."""
    started = []

    def start(target, interval="1s"):
        p = Prometheus(target, interval)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()
