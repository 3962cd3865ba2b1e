"""Helpers for the tests of the worker's REST API (issue 17): plain HTTP calls with bounded waits, a
`sluice run` worker with no pipeline serving the API, and the comparison of two JSON responses by
shape (key sets and value types, recursively) rather than by value.

    w = SluiceWorker(sluice, tmp, kafka.bootstrap)      # w.url, w.stderr(), w.close()
    status, body = call(w.url, "GET", "/connectors")
    diffs = compare(shape(connect_body), shape(sluice_body))   # [] when they agree
"""
import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

from sluicetest import scaled, wait_exit

# -- HTTP --------------------------------------------------------------------------------------


def call(base, method, path, body=None, raw=None, timeout=30):
    """One request; returns (status, parsed JSON or None for an empty body, or the text when it is
    not JSON). body: an object sent as JSON; raw: bytes sent as they are (malformed JSON)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=scaled(timeout)) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    if not text.strip():
        return status, None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def poll(what, fn, timeout=60, interval=0.25):
    """Calls fn() until it returns a true value (returned) or timeout seconds (scaled) pass; then
    raises AssertionError naming `what` and the last value fn returned."""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {scaled(timeout)} s waiting for {what}; "
                                 f"last seen: {last!r:.1500}")
        time.sleep(interval)


# -- a sluice worker with no pipeline ------------------------------------------------------------

LISTENING = re.compile(r"REST API listening on (http://127\.0\.0\.1:(\d+))")


class SluiceWorker:
    """`sluice run --listeners http://127.0.0.1:0 worker.yaml` where worker.yaml holds the `kafka:`
    block and no pipeline: connectors come over the REST API. `url` is read from its log line
    "REST API listening on http://127.0.0.1:PORT"."""

    def __init__(self, sluice, tmp, bootstrap, timeout=60):
        self.tmp = tmp
        self.cfg = tmp / "worker.yaml"
        self.cfg.write_text(f"""version: 1
kafka:
  bootstrap.servers: {bootstrap}
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines: []
""")
        self.out_path, self.err_path = tmp / "worker.stdout", tmp / "worker.stderr"
        self.out, self.err = open(self.out_path, "wb"), open(self.err_path, "wb")
        self.proc = sluice.spawn("run", "--listeners", "http://127.0.0.1:0", self.cfg,
                                 stdout=self.out, stderr=self.err)
        self.url = None
        deadline = time.monotonic() + scaled(timeout)
        while self.url is None:
            m = LISTENING.search(self.output())
            if m:
                self.url = m.group(1)
            elif self.proc.poll() is not None:
                self.close()
                raise AssertionError(f"sluice run exited ({self.proc.returncode}) before listening:"
                                     f"\n{self.output()[-3000:]}")
            elif time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"sluice run printed no 'REST API listening on' line in "
                                     f"{scaled(timeout)} s:\n{self.output()[-3000:]}")
            else:
                time.sleep(0.05)

    def output(self):
        """What it printed so far, stdout then stderr."""
        for f in (self.out, self.err):
            if not f.closed:
                f.flush()
        return (self.out_path.read_text(errors="replace")
                + self.err_path.read_text(errors="replace"))

    def close(self):
        """SIGTERM, then SIGKILL after 30 s; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = wait_exit(self.proc, 30)
        except AssertionError:
            rc = self.proc.returncode
        for f in (self.out, self.err):
            f.close()
        return rc


def start_sluice_worker(sluice_bin, tmp, bootstrap):
    """A SluiceWorker from the binary under test, with a clean plugin path."""
    import os

    from sluicetest import Sluice
    env = dict(os.environ)
    env.pop("SLUICE_PLUGIN_PATH", None)
    return SluiceWorker(Sluice(sluice_bin, env), tmp, bootstrap)


# -- shapes ------------------------------------------------------------------------------------
# A shape is what a response looks like without its values: {"types": {...}, "keys": {k: shape}
# (objects), "items": shape or None (arrays: every element's shape merged; None when empty)}.
# "number" covers ints and floats; "null" is compatible with any type (an unset optional value).

#: Objects whose keys are data, not structure (a connector's or task's configuration): only their
#: values' types count. A path is the keys from the top joined by ".", with [] for array elements
#: and * for a connector's name as a key of the top object (GET /connectors?expand=info).
DATA_MAPS = ("config", "[].config", "*.info.config")


def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _merge(a, b):
    if a is None:
        return b
    if b is None:
        return a
    out = {"types": a["types"] | b["types"], "keys": None, "items": None}
    if a["keys"] is not None or b["keys"] is not None:
        ka, kb = a["keys"] or {}, b["keys"] or {}
        out["keys"] = {k: _merge(ka.get(k), kb.get(k)) for k in set(ka) | set(kb)}
    out["items"] = _merge(a["items"], b["items"])
    return out


def shape(v):
    """The shape of a parsed JSON value."""
    s = {"types": {_kind(v)}, "keys": None, "items": None}
    if isinstance(v, dict):
        s["keys"] = {k: shape(x) for k, x in v.items()}
    elif isinstance(v, list):
        for x in v:
            s["items"] = _merge(s["items"], shape(x))
    return s


def _is_data_map(path, data_maps):
    star = "*" + path[path.index("."):] if "." in path else "*"
    return path in data_maps or star in data_maps


def compare(a, b, names=("connect", "sluice"), path="", data_maps=DATA_MAPS):
    """Differences between shapes a and b as readable strings ([] when they agree). data_maps: the
    paths of objects whose keys are data (a response that is a configuration: ("",))."""
    where = path or "(top)"
    diffs = []
    ta, tb = a["types"] - {"null"}, b["types"] - {"null"}
    if ta and tb and ta != tb:
        diffs.append(f"{where}: {names[0]} gives {sorted(ta)}, {names[1]} {sorted(tb)}")
        return diffs
    if _is_data_map(path, data_maps):
        if a["keys"] is not None and b["keys"] is not None:
            va = set().union(*(s["types"] for s in a["keys"].values())) - {"null"}
            vb = set().union(*(s["types"] for s in b["keys"].values())) - {"null"}
            if va and vb and va != vb:
                diffs.append(f"{where}: values {sorted(va)} in {names[0]}, {sorted(vb)} in "
                             f"{names[1]}")
        return diffs
    if a["keys"] is not None and b["keys"] is not None:
        only_a = sorted(set(a["keys"]) - set(b["keys"]))
        only_b = sorted(set(b["keys"]) - set(a["keys"]))
        if only_a:
            diffs.append(f"{where}: keys only in {names[0]}: {only_a}")
        if only_b:
            diffs.append(f"{where}: keys only in {names[1]}: {only_b}")
        for k in sorted(set(a["keys"]) & set(b["keys"])):
            sub = f"{path}.{k}" if path else k
            diffs += compare(a["keys"][k], b["keys"][k], names, sub, data_maps)
    if "array" in ta and "array" in tb:
        if (a["items"] is None) != (b["items"] is None):
            empty = names[0] if a["items"] is None else names[1]
            diffs.append(f"{where}: an empty array in {empty} only")
        elif a["items"] is not None:
            diffs += compare(a["items"], b["items"], names, f"{path}[]", data_maps)
    return diffs
