"""sftp-json against a real OpenSSH sshd with internal-sftp (tests/services/sftp.sh, the
`sftp_server` fixture), in-process `sluice run`: exactly once across SIGKILLs, a 30 s server outage
survived with backoff, rotate.interval.ms closing an idle file, and the login / host key /
permission errors (clear message, no busy loop, nothing committed). The files are read back from
the chroot on the local filesystem (the server's "/")."""
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sluicetest import kill, scaled, wait_exit, wait_until, write_yaml

T0 = 1673143200000  # 2023-01-08T02:00:00Z
TICK = os.sysconf("SC_CLK_TCK")


def rec(i, ts, **extra):
    return json.dumps({"id": i, "name": f"n{i}", "ts": ts, **extra}, separators=(",", ":"))


def write_records(path, recs, mode="w"):
    with open(path, mode) as f:
        f.write("".join(r + "\n" for r in recs))


def sftp_yaml(tmp, srv, src, *, follow=False, pipeline="", name="p.yaml", **over):
    """file source (JSON lines) → sftp-json on srv with key login and the pinned host key; `over`
    replaces or (value None) removes sink keys."""
    sink = {"sftp.host": srv.host, "sftp.port": srv.port, "sftp.username": srv.user,
            "sftp.private.key": srv.key, "sftp.host.key.sha256": f'"{srv.host_key_sha256}"',
            "sftp.working.dir": srv.working_dir, "sftp.connect.timeout.ms": "5s",
            "sftp.timeout.ms": "5s"}
    sink.update(over)
    cfg = "\n".join(f"          {k}: {v}" for k, v in sink.items() if v is not None)
    return write_yaml(tmp / name, f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: orders
    topic: orders
{pipeline}    source:
      plugin: file
      config: {{ file: {src}, format: json, follow: {str(follow).lower()}, batch.size: 1000 }}
    sinks:
      - id: files
        plugin: sftp-json
        batch.max.records: 1000
        config:
{cfg}
""")


def server_tree(srv):
    """{path relative to the working dir: bytes} of every file the server holds under /upload."""
    root = srv.root / srv.working_dir.lstrip("/")
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            try:
                out[str(p.relative_to(root))] = p.read_bytes()
            except FileNotFoundError:  # renamed or removed by the sink since the listing
                pass
    return out


def final_ids(srv):
    """(ids of every line in the final data files, names of temporary files left)."""
    got = server_tree(srv)
    tmps = [k for k in got if k.endswith(".tmp")]
    ids = []
    for name, body in got.items():
        if name.startswith("topics/.sluice/") or name.endswith(".tmp"):
            continue
        assert body.endswith(b"\n"), f"{name} ends with a partial line"
        ids += [json.loads(x)["id"] for x in body.decode().splitlines()]
    return ids, tmps


def assert_exactly_once(srv, n, what=""):
    ids, tmps = final_ids(srv)
    assert not tmps, f"temporary files left {what}: {tmps[:5]}"
    dup = len(ids) - len(set(ids))
    assert dup == 0, f"{dup} duplicate records {what}"
    missing = n - len(set(ids))
    assert sorted(ids) == list(range(n)), f"{missing} records missing {what}"


def cpu_seconds(pid):
    """utime + stime of a live process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def committed_pipelines(tmp):
    """The pipelines the offsets file holds a position for ({} when there is no file)."""
    p = tmp / "offsets.json"
    return json.loads(p.read_text()).get("pipelines", {}) if p.exists() else {}


@pytest.fixture
def procs():
    """sluice processes spawned by a test: killed (SIGKILL) and reaped in teardown."""
    made = []
    yield made
    for p in made:
        kill(p, signal.SIGKILL)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass


def test_exactly_once_across_sigkills_over_sftp(sluice, tmp, sftp_server, procs):
    """200,000 records, hourly directories by a record-time field, killed (SIGKILL) at random
    moments and restarted until the source is done: every record once in the final files on the
    server, no temporary file left. A run without kills takes about a second, so (as the local
    test does) a round that finishes is checked, the tree removed and the next round started,
    until 8 kills happened in all."""
    srv = sftp_server
    n = 200_000
    recs = [rec(i, T0 + i * 50) for i in range(n)]  # ~2.8 h of record time: hourly directories
    write_records(tmp / "in.json", recs)
    cfg = sftp_yaml(tmp, srv, tmp / "in.json", **{
        "partitioner.class": "hourly", "flush.size": 700, "timestamp.extractor": "RecordField",
        "timestamp.field": "ts", "buffer.size": "8KiB"},
        pipeline="    offset.flush.interval.ms: 300ms\n")
    seed = int(os.environ.get("SLUICE_TEST_SEED", "5"))  # another seed: other kill moments
    rng = random.Random(seed)
    kills = rounds = runs = 0
    deadline = time.monotonic() + scaled(100)
    while True:
        assert time.monotonic() < deadline, f"not done after {kills} kills"
        proc = sluice.spawn("run", "--quiet", cfg)
        procs.append(proc)
        runs += 1
        try:
            proc.wait(timeout=rng.uniform(0.05, 1.2) if kills < 8 else
                      max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            assert kills < 8, "the last run did not finish in time"
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
            kills += 1
            continue
        rc = proc.returncode
        assert rc == 0, f"exit {rc}: {proc.stderr.read().decode()[-2000:]}"
        rounds += 1
        # the source is done: every record once, whatever the kills of this round did
        assert_exactly_once(srv, n, f"after {kills} kills (round {rounds})")
        if kills >= 8:
            break
        # Finished before eight kills: start over with a fresh tree for another round.
        shutil.rmtree(srv.root / srv.working_dir.lstrip("/") / "topics")
        (tmp / "offsets.json").unlink(missing_ok=True)
    print(f"seed {seed}: {kills} kills, {runs} runs, {rounds} rounds, {srv.logins()} logins")


def test_sshd_outage_of_30s_is_retried_with_backoff(sluice, tmp, sftp_server, procs):
    """sshd stopped for 30 s mid-run, while records keep arriving (2,000 a second appended to the
    followed source, before, during and after the outage): the sink retries with backoff (sluice's
    CPU time over the outage stays under 5 % of a core), reconnects when sshd is back on the same
    port, and every record ends up once in the final files."""
    srv = sftp_server
    src = tmp / "in.json"
    src.write_text("")
    total, step, period = 84_000, 1000, 0.5  # 42 s of appends
    stop_writer = threading.Event()

    def writer():
        for s in range(0, total, step):
            if stop_writer.wait(period):
                return
            write_records(src, [rec(i, T0 + i * 100) for i in range(s, s + step)], mode="a")

    cfg = sftp_yaml(tmp, srv, src, follow=True, pipeline="    offset.flush.interval.ms: 500ms\n",
                    **{"partitioner.class": "hourly", "flush.size": 1000,
                       "timestamp.extractor": "RecordField", "timestamp.field": "ts"})
    proc = sluice.spawn("run", "--quiet", cfg)
    procs.append(proc)
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    try:
        wait_until(lambda: len(final_ids(srv)[0]) >= 4000, 30, interval=0.05,
                   what="the first records on the server")
        assert proc.poll() is None
        srv.stop()
        try:
            at_stop = len(final_ids(srv)[0])
            time.sleep(2)  # let the sink meet the outage before measuring
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(28)
            cpu = cpu_seconds(proc.pid) - cpu0
            wall = time.monotonic() - t0
            assert proc.poll() is None, \
                f"sluice gave up during the outage: {proc.stderr.read().decode()[-2000:]}"
            print(f"outage: {cpu:.2f} s CPU over {wall:.1f} s; {at_stop} records before it")
            assert cpu < 0.05 * wall, f"{cpu:.2f} s of CPU over {wall:.1f} s of outage: a busy loop"
            assert len(final_ids(srv)[0]) == at_stop, "files written while sshd was stopped"
        finally:
            srv.start()
        th.join(timeout=scaled(30))
        assert not th.is_alive()
        wait_until(lambda: len(final_ids(srv)[0]) >= total, 60, interval=0.2,
                   what="every record after the server came back")
    finally:
        stop_writer.set()
        th.join(timeout=10)
    kill(proc, signal.SIGTERM)
    rc = wait_exit(proc, 30)
    assert rc == 0, f"exit {rc}: {proc.stderr.read().decode()[-2000:]}"
    assert_exactly_once(srv, total, "after the outage")
    assert srv.logins() >= 2


def test_rotate_interval_closes_an_idle_file_over_sftp(sluice, tmp, sftp_server, procs):
    """rotate.interval.ms closes an open file on the server within interval + 1 s although no
    further record arrives, and not before: the core's idle commits go through the sink's
    precommit (ABI 1.2), which keeps the file open until its interval has passed."""
    srv = sftp_server
    src = tmp / "in.json"
    write_records(src, [rec(0, 0)])
    interval = 1.5
    cfg = sftp_yaml(tmp, srv, src, follow=True, **{"rotate.interval.ms": int(interval * 1000),
                                                   "flush.size": 1000})
    proc = sluice.spawn("run", "--quiet", cfg)
    procs.append(proc)
    part = srv.root / srv.working_dir.lstrip("/") / "topics/orders/partition=0"
    # the first record logs in and opens the connection; then time an idle file from its records
    first = part / "orders+0+0000000000.json"
    wait_until(first.exists, 20, interval=0.02, what="the first file (login)")
    t1 = time.monotonic()
    write_records(src, [rec(i, 0) for i in range(1, 6)], mode="a")
    second = part / "orders+0+0000000001.json"
    time.sleep(interval / 2)
    assert not second.exists(), "the file was closed before rotate.interval.ms passed"
    wait_until(lambda: second.exists() and second.read_bytes().count(b"\n") == 5,
               interval + 1, interval=0.02,
               what="the idle file closed within rotate.interval.ms + 1 s")
    print(f"closed after {time.monotonic() - t1:.2f} s")
    assert not list(part.glob("*.tmp"))
    assert first.read_bytes().count(b"\n") == 1
    assert proc.poll() is None
    kill(proc, signal.SIGTERM)
    assert wait_exit(proc, 20) == 0


def _other_key(tmp):
    k = tmp / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(k)], check=True,
                   timeout=30)
    return k


@pytest.mark.parametrize("case", ["password", "key", "host_key", "known_hosts_changed",
                                  "permission"])
def test_login_and_permission_errors(sluice, tmp, sftp_server, case):
    """A wrong password, a wrong key, a changed host key (sftp.host.key.sha256 not the server's, or
    another key for the server in sftp.known.hosts) and a working directory without permission
    each make `sluice run` fail within a bounded time with a clear message, spending little CPU
    (no busy loop) and committing nothing: the next run with a good config delivers every record
    once."""
    srv = sftp_server
    n = 3000
    write_records(tmp / "in.json", [rec(i, T0 + i * 1000) for i in range(n)])
    bad, frags, env = {}, [], None
    if case == "password":
        bad = {"sftp.private.key": None, "sftp.password": "${SFTP_PW}"}
        env = {"SFTP_PW": "not-the-password-sluiceCANARY"}
        frags = ["authentication refused", "sftp.password", f"{srv.host}:{srv.port}", srv.user]
    elif case == "key":
        bad = {"sftp.private.key": _other_key(tmp)}
        frags = ["authentication refused", "sftp.private.key", f"{srv.host}:{srv.port}"]
    elif case == "host_key":
        bad = {"sftp.host.key.sha256": '"' + "A" * 43 + '"'}
        frags = [srv.host_key_sha256, "sftp.host.key.sha256", f"{srv.host}:{srv.port}"]
    elif case == "known_hosts_changed":
        other = _other_key(tmp)
        kh = tmp / "known_hosts"
        kh.write_text(f"[{srv.host}]:{srv.port} " +
                      " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n")
        bad = {"sftp.host.key.sha256": None, "sftp.known.hosts": kh}
        frags = ["CHANGED", "SHA256:" + srv.host_key_sha256, f"{srv.host}:{srv.port}"]
    else:
        bad = {"sftp.working.dir": "/readonly"}
        frags = ["/readonly/topics/", "permission", "sftp.working.dir", srv.user]
    cfg = sftp_yaml(tmp, srv, tmp / "in.json", name="bad.yaml", **bad)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = sluice.run("run", "--quiet", cfg, timeout=60, env=env)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert r.returncode != 0, f"sluice run succeeded with {case}:\n{r.stderr[-2000:]}"
    for f in frags:
        assert f in r.stderr, f"{f!r} not in the error:\n{r.stderr[-3000:]}"
    assert "not-the-password" not in r.stderr + r.stdout
    assert cpu < max(1.0, 0.2 * wall), f"{cpu:.2f} s of CPU in {wall:.1f} s: a busy loop"
    print(f"{case}: failed after {wall:.2f} s, {cpu:.2f} s CPU: "
          + " | ".join(ln for ln in r.stderr.splitlines() if "sftp " in ln))
    # nothing committed: no position of the pipeline, no data file on the server
    assert "orders" not in committed_pipelines(tmp), committed_pipelines(tmp)
    ids, tmps = final_ids(srv)
    assert not ids and not tmps
    assert not [p for p in (srv.root / "readonly").rglob("*")]
    # the next run with a good config delivers everything, once
    good = sftp_yaml(tmp, srv, tmp / "in.json")
    r = sluice.run("run", "--quiet", good, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert_exactly_once(srv, n, f"after the {case} error")
    assert committed_pipelines(tmp)["orders"]["next_offset"] == n


def test_field_values_stay_one_directory_over_sftp(sluice, tmp, sftp_server):
    """Issue #22 on the SFTP store: `v1..`, `..`, `.` and `/` in field values stay one directory
    under the working dir; a value that cannot be a directory name fails its record only."""
    srv = sftp_server
    countries = ["es", "v1..", "..", ".", "a/../../../escape", "x" * 300, "fr"]
    files = ["topics/orders/country=es/orders+0+0000000000.json",
             "topics/orders/country=v1../orders+0+0000000001.json",
             "topics/orders/country=%2E%2E/orders+0+0000000002.json",
             "topics/orders/country=%2E/orders+0+0000000003.json",
             "topics/orders/country=a%2F..%2F..%2F..%2Fescape/orders+0+0000000004.json",
             "topics/orders/country=fr/orders+0+0000000006.json"]
    recs = [rec(i, T0, country=c) for i, c in enumerate(countries)]
    write_records(tmp / "in.json", recs)
    cfg = sftp_yaml(tmp, srv, tmp / "in.json", pipeline="    errors.tolerance: all\n",
                    **{"partitioner.class": "field", "partition.field.name": "country"})
    for _ in range(2):  # and again after a restart
        r = sluice.run("run", "--quiet", cfg, timeout=60)
        assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    got = {k: v for k, v in server_tree(srv).items() if not k.startswith("topics/.sluice/")}
    assert sorted(got) == sorted(files)
    assert got[files[1]] == (recs[1] + "\n").encode()
    assert not list(srv.root.glob("**/escape*")), "a file was written outside the tree"
