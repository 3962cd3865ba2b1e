"""sftp-json to a local directory (`directory`), in-process: the seed's layout byte for byte, the
partitioners, gzip, rotate.interval.ms closing an idle file, exactly once across SIGKILLs, and
configuration errors named by key. (The SFTP store has its own tests against a real sshd.)"""
import gzip
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from sluicetest import kill, scaled, wait_exit, wait_until, write_yaml

HOUR = 3_600_000
T0 = 1673143200000  # 2023-01-08T02:00:00Z


def rec(i, ts, **extra):
    return json.dumps({"id": i, "name": f"n{i}", "ts": ts, **extra}, separators=(",", ":"))


def write_records(path, recs):
    Path(path).write_text("".join(r + "\n" for r in recs))


def yaml(tmp, src, sink, *, follow=False, pipeline=""):
    cfg = "\n".join(f"          {k}: {v}" for k, v in sink.items())
    return write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp / 'offsets.json'}
pipelines:
  - id: orders
    topic: orders
{pipeline}    source:
      plugin: file
      config: {{ file: {src}, format: json, follow: {'true' if follow else 'false'}, batch.size: 1000 }}
    sinks:
      - id: files
        plugin: sftp-json
        batch.max.records: 1000
        config:
          directory: {tmp / 'out'}
{cfg}
""")


def tree(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def data_files(root):
    return {k: v for k, v in tree(root).items() if "/.sluice/" not in k}


def run_ok(sluice, cfg, timeout=60):
    r = sluice.run("run", "--quiet", cfg, timeout=timeout)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    return r


def test_seed_layout_hourly_byte_for_byte(sluice, tmp):
    # 2500 records in hour 02, 2500 in hour 03: files rotate per Kafka partition every 1000
    # records, so hour 02's third file and hour 03's first one are cut at offset 2999 together.
    recs = [rec(i, T0 + i * 1440 if i < 2500 else T0 + HOUR + (i - 2500) * 1000)
            for i in range(5000)]
    write_records(tmp / "in.json", recs)
    cfg = yaml(tmp, tmp / "in.json", {"partitioner.class": "hourly", "flush.size": 1000,
                                      "timestamp.extractor": "RecordField",
                                      "timestamp.field": "ts"})
    run_ok(sluice, cfg)
    h2 = "topics/orders/year=2023/month=01/day=08/hour=02/"
    h3 = "topics/orders/year=2023/month=01/day=08/hour=03/"
    want = {h2 + "orders+0+0000000000.json": (0, 1000), h2 + "orders+0+0000001000.json": (1000, 2000),
            h2 + "orders+0+0000002000.json": (2000, 2500), h3 + "orders+0+0000002500.json": (2500, 3000),
            h3 + "orders+0+0000003000.json": (3000, 4000), h3 + "orders+0+0000004000.json": (4000, 5000)}
    got = data_files(tmp / "out")
    assert sorted(got) == sorted(want)
    for name, (a, b) in want.items():
        assert got[name] == "".join(r + "\n" for r in recs[a:b]).encode(), name


def test_record_timestamp_daily_and_timezone(sluice, tmp):
    # Record time (the default extractor) is the time the file source read the line: today.
    write_records(tmp / "in.json", [rec(i, 0) for i in range(10)])
    cfg = yaml(tmp, tmp / "in.json", {"partitioner.class":
                                      "io.confluent.connect.storage.partitioner.DailyPartitioner",
                                      "timezone": "+14:00"})
    run_ok(sluice, cfg)
    got = data_files(tmp / "out")
    assert len(got) == 1
    name = next(iter(got))
    day = time.strftime("year=%Y/month=%m/day=%d", time.gmtime(time.time() + 14 * 3600))
    assert name == f"topics/orders/{day}/orders+0+0000000000.json", name
    assert got[name].count(b"\n") == 10


def test_field_default_and_time_based(sluice, tmp):
    recs = [rec(i, T0 + i * 60_000, country=["es", "fr/x"][i % 2]) for i in range(10)]
    write_records(tmp / "in.json", recs)
    run_ok(sluice, yaml(tmp, tmp / "in.json", {"partitioner.class": "field",
                                               "partition.field.name": "country"}))
    got = data_files(tmp / "out")
    assert sorted(got) == ["topics/orders/country=es/orders+0+0000000000.json",
                           "topics/orders/country=fr%2Fx/orders+0+0000000001.json"]
    assert got["topics/orders/country=es/orders+0+0000000000.json"] == \
        "".join(recs[i] + "\n" for i in range(0, 10, 2)).encode()

    for d in (tmp / "out", tmp / "offsets.json"):
        os.system(f"rm -rf '{d}'")
    run_ok(sluice, yaml(tmp, tmp / "in.json", {"filename.offset.zero.pad.width": 4,
                                               "topics.dir": "t", "file.delim": "\"-\""}))
    assert sorted(data_files(tmp / "out")) == ["t/orders/partition=0/orders-0-0000.json"]

    os.system(f"rm -rf '{tmp / 'out'}' '{tmp / 'offsets.json'}'")
    run_ok(sluice, yaml(tmp, tmp / "in.json", {
        "partitioner.class": "time-based", "path.format": "\"'dt'=YYYY-MM-dd/'min'=HHmm\"",
        "partition.duration.ms": 300000, "timezone": "America/New_York",
        # Confluent's class name, as pasted from a connector config
        "timestamp.extractor":
            "io.confluent.connect.storage.partitioner.TimeBasedPartitioner$RecordFieldTimestampExtractor",
        "timestamp.field": "ts"}))
    # 02:00Z is 21:00 of Jan 7 in New York; 5-minute buckets.
    assert sorted(data_files(tmp / "out")) == [
        "topics/orders/dt=2023-01-07/min=2100/orders+0+0000000000.json",
        "topics/orders/dt=2023-01-07/min=2105/orders+0+0000000005.json"]


def test_gzip_is_readable(sluice, tmp):
    recs = [rec(i, T0) for i in range(2500)]
    write_records(tmp / "in.json", recs)
    run_ok(sluice, yaml(tmp, tmp / "in.json", {"compression.type": "gzip", "flush.size": 1000,
                                               "buffer.size": "4KiB"}))
    got = data_files(tmp / "out")
    names = sorted(got)
    assert names == [f"topics/orders/partition=0/orders+0+{o:010d}.json.gz"
                     for o in (0, 1000, 2000)]
    text = b"".join(gzip.decompress(got[n]) for n in names)
    assert text == "".join(r + "\n" for r in recs).encode()


@pytest.mark.tsan
def test_rotate_interval_closes_an_idle_file(sluice, tmp):
    src = tmp / "in.json"
    write_records(src, [rec(i, 0) for i in range(5)])
    cfg = yaml(tmp, src, {"rotate.interval.ms": 1500, "flush.size": 1000}, follow=True)
    proc = sluice.spawn("run", "--quiet", cfg)
    try:
        part = tmp / "out/topics/orders/partition=0"
        t0 = time.monotonic()
        first = part / "orders+0+0000000000.json"
        wait_until(lambda: first.exists() and first.read_bytes().count(b"\n") == 5, 1.5 + 1,
                   what="the idle file closed within rotate.interval.ms + 1 s")
        assert not list(part.glob("*.tmp"))
        # After the interval, new records go to a new file; the closed one is not touched.
        time.sleep(max(0.0, 1.6 - (time.monotonic() - t0)))
        with open(src, "a") as f:
            f.write(rec(5, 0) + "\n")
        second = part / "orders+0+0000000005.json"
        wait_until(second.exists, 2.5, what="the next file")
        assert first.read_bytes().count(b"\n") == 5
    finally:
        kill(proc, signal.SIGTERM)
        wait_exit(proc, 20)


@pytest.mark.asan
@pytest.mark.tsan
def test_slow_stream_fills_files_and_commits_only_closed_ones(sluice, tmp):
    """A trickle of records (one every 50 ms) with flush.size 10 makes files of 10 records: the
    core's idle and periodic commits go through precommit (ABI 1.2), which leaves the open file
    alone and commits only up to its first record. A SIGKILL while 5 records sit in the open file
    loses none of them: the restart reads them again (their offsets were not committed)."""
    src = tmp / "in.json"
    src.write_text("")
    cfg = yaml(tmp, src, {"flush.size": 10, "rotate.interval.ms": 600000}, follow=True,
               pipeline="    offset.flush.interval.ms: 100ms\n")
    part = tmp / "out/topics/orders/partition=0"
    proc = sluice.spawn("run", "--quiet", cfg)
    try:
        for i in range(25):
            with open(src, "a") as f:
                f.write(rec(i, 0) + "\n")
            time.sleep(0.05)
        wait_until(lambda: (part / "orders+0+0000000010.json").exists(), scaled(10),
                   what="the second file")
        time.sleep(0.5)  # several idle precommits and periodic commits with 5 records held
        assert sorted(p.name for p in part.glob("*.json")) == [
            "orders+0+0000000000.json", "orders+0+0000000010.json"]
        for p in part.glob("*.json"):
            assert p.read_bytes().count(b"\n") == 10, p.name
    finally:
        kill(proc, signal.SIGKILL)
        wait_exit(proc, 20)
    # restart without follow: reads from the committed position (20) to the end and exits
    cfg = yaml(tmp, src, {"flush.size": 10, "rotate.interval.ms": 600000})
    run_ok(sluice, cfg)
    got = data_files(tmp / "out")
    assert not [k for k in tree(tmp / "out") if k.endswith(".tmp")]
    assert {k.rsplit("/", 1)[1]: v.count(b"\n") for k, v in got.items()} == {
        "orders+0+0000000000.json": 10, "orders+0+0000000010.json": 10,
        "orders+0+0000000020.json": 5}
    ids = sorted(json.loads(x)["id"] for v in got.values() for x in v.decode().splitlines())
    assert ids == list(range(25))


def test_exactly_once_across_sigkills(sluice, tmp):
    n = 50_000
    recs = [rec(i, T0 + i * 200) for i in range(n)]  # ~2.8 h of record time: hourly directories
    write_records(tmp / "in.json", recs)
    cfg = yaml(tmp, tmp / "in.json", {"partitioner.class": "hourly", "flush.size": 700,
                                      "timestamp.extractor": "RecordField",
                                      "timestamp.field": "ts", "buffer.size": "8KiB"},
               pipeline="    offset.flush.interval.ms: 300ms\n")
    rng = random.Random(5)
    kills = 0
    deadline = time.monotonic() + scaled(240)
    while True:
        assert time.monotonic() < deadline, f"not done after {kills} kills"
        proc = sluice.spawn("run", "--quiet", cfg)
        try:
            proc.wait(timeout=rng.uniform(0.02, 0.3))
        except Exception:
            kill(proc, signal.SIGKILL)
            wait_exit(proc, 20)
            kills += 1
            continue
        rc = proc.returncode
        assert rc == 0, f"exit {rc}: {proc.stderr.read().decode()[-2000:]}"
        if kills >= 8:
            break
        # Finished before eight kills: start over with a fresh tree for another round.
        os.system(f"rm -rf '{tmp / 'out'}' '{tmp / 'offsets.json'}'")
    got = tree(tmp / "out")
    assert not [k for k in got if k.endswith(".tmp")], "temporary files left"
    lines = []
    for name, body in got.items():
        if "/.sluice/" in name:
            continue
        assert body.endswith(b"\n")
        lines += body.decode().splitlines()
    ids = sorted(json.loads(x)["id"] for x in lines)
    dup = len(ids) - len(set(ids))
    assert dup == 0, f"{dup} duplicate records after {kills} kills"
    assert ids == list(range(n)), f"{n - len(set(ids))} records missing after {kills} kills"
    print(f"{kills} kills, {len(got)} files")


@pytest.mark.parametrize("sink,key", [
    ({"topics.dir": "t"}, "directory"),
    ({"sftp.host": '""'}, "directory"),
    ({"partitioner.class": "weekly"}, "partitioner.class"),
    ({"partitioner.class": "field"}, "partition.field.name"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"partitioner.class": "time-based", "path.format": "\"'y'=YYYY/QQ\"",
      "partition.duration.ms": 1000}, "path.format"),
    ({"partitioner.class": "time-based", "path.format": "\"'y=YYYY\"",
      "partition.duration.ms": 1000}, "path.format"),
    ({"locale": "fr_FR"}, "locale"),
    ({"timestamp.extractor": "Sundial"}, "timestamp.extractor"),
    ({"file.mode": "0400"}, "file.mode"),
    ({"file.mode": "rw-r--r--"}, "file.mode"),
])
def test_bad_config_is_a_lint_error_naming_the_key(sluice, tmp, sink, key):
    write_records(tmp / "in.json", [])
    text = yaml(tmp, tmp / "in.json", sink).read_text()
    if "directory" in sink or key == "directory":
        text = text.replace(f"          directory: {tmp / 'out'}\n", "")
    cfg = write_yaml(tmp / "p.yaml", text)
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode != 0, f"lint accepted {sink}"
    assert key in r.stderr, f"the error does not name {key}:\n{r.stderr}"
    assert not (tmp / "out").exists(), "lint must not create the directory"


def test_empty_sftp_host_writes_locally_and_a_host_wins_over_directory(sluice, tmp):
    """One pipeline file for both targets: `sftp.host: ${SFTP_HOST:-}` is empty unless the
    variable is set, and then the local `directory` is used; a non-empty sftp.host wins over
    `directory`, with a warning that says so."""
    write_records(tmp / "in.json", [rec(i, 0) for i in range(3)])
    cfg = yaml(tmp, tmp / "in.json", {"sftp.host": "${SLUICE_TEST_SFTP_HOST:-}",
                                      "sftp.username": "sammy", "sftp.password": "pw-sluiceCANARY",
                                      "sftp.host.key.sha256": "AAAA"})
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_TEST_SFTP_HOST"}
    r = sluice.run("run", "--quiet", cfg, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert sum(v.count(b"\n") for v in data_files(tmp / "out").values()) == 3
    r = sluice.run("lint", cfg, timeout=30,
                   env={**env, "SLUICE_TEST_SFTP_HOST": "sftp.example.com"})
    assert r.returncode == 0, r.stderr
    assert "sftp.host is set: writing to sftp.example.com, not to directory" in r.stderr, r.stderr


# Issue #22: field values that look like paths.
HOSTILE_COUNTRIES = ["es", "v1..", "..", ".", "a/../../../escape", "x" * 300, "fr"]
HOSTILE_FILES = ["topics/orders/country=es/orders+0+0000000000.json",
                 "topics/orders/country=v1../orders+0+0000000001.json",
                 "topics/orders/country=%2E%2E/orders+0+0000000002.json",
                 "topics/orders/country=%2E/orders+0+0000000003.json",
                 "topics/orders/country=a%2F..%2F..%2F..%2Fescape/orders+0+0000000004.json",
                 "topics/orders/country=fr/orders+0+0000000006.json"]


def test_field_values_stay_one_directory_and_a_bad_one_fails_only_its_record(sluice, tmp):
    """A value like `v1..` is a directory name like any other, `..` and `.` are escaped, and a value
    that cannot be a directory name (over 255 bytes) fails its record (dead letter with
    errors.tolerance all), not the pipeline — nor every restart after it."""
    recs = [rec(i, T0, country=c) for i, c in enumerate(HOSTILE_COUNTRIES)]
    write_records(tmp / "in.json", recs)
    cfg = yaml(tmp, tmp / "in.json", {"partitioner.class": "field",
                                      "partition.field.name": "country"},
               pipeline="    errors.tolerance: all\n")
    for _ in range(2):  # and again after a restart
        run_ok(sluice, cfg)
    got = data_files(tmp / "out")
    assert sorted(got) == sorted(HOSTILE_FILES)
    assert got[HOSTILE_FILES[1]] == (recs[1] + "\n").encode()
    assert not list(tmp.glob("**/escape*")), "a file was written outside the tree"


def test_file_mode_of_files_and_directories(sluice, tmp):
    """file.mode: the files exactly (whatever the umask), the directories with x where r is."""
    write_records(tmp / "in.json", [rec(i, T0) for i in range(3)])
    run_ok(sluice, yaml(tmp, tmp / "in.json", {"file.mode": "0640"}))
    name = "topics/orders/partition=0/orders+0+0000000000.json"
    assert sorted(data_files(tmp / "out")) == [name]
    assert (tmp / "out" / name).stat().st_mode & 0o777 == 0o640
    assert (tmp / "out" / "topics/orders/partition=0").stat().st_mode & 0o777 == 0o750
