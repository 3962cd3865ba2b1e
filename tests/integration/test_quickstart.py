"""The quick start as the README gives it: `scripts/quickstart` runs the seed's four streams
in-process — the light sensor from the real firmware in the simulator, the three datagen streams —
prints their records on the console and writes the seed's hourly JSON tree; Ctrl-C (SIGINT to its
process group, as a terminal sends it) stops sluice cleanly (exit 0, files closed) and then the
simulator. Also pipelines/quickstart.yaml on its own: lint and its transforms' unit tests."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sluicetest import REPO, scaled, wait_until

QUICKSTART = REPO / "pipelines" / "quickstart.yaml"
SEED = ["flota", "orders", "tarjeta"]
# records per datagen source, and how many sources write each topic
SOURCES = {"flota": 3, "orders": 2, "tarjeta": 2}


@pytest.mark.asan
def test_quickstart_lints_and_its_transforms_pass(sluice, tmp):
    files = [QUICKSTART] + [REPO / "pipelines" / f"{n}.yaml" for n in SEED]
    r = sluice.run("lint", *files, env={"SLUICE_STATE_DIR": str(tmp)}, timeout=60)
    assert r.returncode == 0, r.stderr
    r = sluice.run("test", REPO / "pipelines" / "quickstart_test.yaml", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed, 0 failed" in r.stdout + r.stderr


def _lines(root, topic):
    out = []
    for p in sorted((root / "topics" / topic).rglob("*.json")):
        out += [json.loads(x) for x in p.read_text().splitlines()]
    return out


def test_scripts_quickstart_runs_the_four_streams_until_ctrl_c(tmp):
    """`scripts/quickstart`, exactly as in the README, with small counts: SLUICE_ITERATIONS bounds
    the datagen sources, SLUICE_SENSOR_SPEED runs the sensor 20x faster than real time."""
    state = tmp / "state"
    env = dict(os.environ, SLUICE_STATE_DIR=str(state), SLUICE_ITERATIONS="40",
               SLUICE_MAX_INTERVAL="10ms", SLUICE_SENSOR_SPEED="20")
    out, err = open(tmp / "stdout", "wb"), open(tmp / "stderr", "wb")
    proc = subprocess.Popen([str(REPO / "scripts" / "quickstart")], cwd=tmp, env=env,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            start_new_session=True)
    try:
        def ended():
            return (tmp / "stderr").read_text(errors="replace").count("source reached its end")

        # the build is already there (scripts/test built it): set-up takes seconds
        wait_until(lambda: ended() >= 7 or proc.poll() is not None, scaled(300), interval=0.2,
                   what="the seven datagen sources to reach their iterations")
        assert proc.poll() is None, "the sensor's source runs until Ctrl-C: sluice must still run"

        def readings():
            text = (tmp / "stdout").read_text(errors="replace")
            return [json.loads(x) for x in text.splitlines() if x.startswith('{"luz"')]
        wait_until(lambda: len(readings()) >= 3, scaled(60), interval=0.2,
                   what="three light readings on the console")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        rc = proc.wait(timeout=scaled(60))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
        err.close()
    log = (tmp / "stderr").read_text(errors="replace")
    assert rc == 0, f"Ctrl-C: exit {rc}\n{log[-3000:]}"
    # the simulator was stopped with the run
    assert subprocess.run(["pgrep", "-f", str(state / "ttyLDR")],
                          capture_output=True).returncode != 0, "sluice-sim still running"
    files = state / "files"
    for topic, n in SOURCES.items():
        recs = _lines(files, topic)
        assert len(recs) == 40 * n, f"{topic}: {len(recs)} records in the files, want {40 * n}"
        names = [p.name for p in (files / "topics" / topic).rglob("*.json")]
        assert all(re.fullmatch(rf"{topic}\+0\+\d{{10}}\.json", x) for x in names), names
        assert any(p.parts[-5:-1][0].startswith("year=")
                   for p in (files / "topics" / topic).rglob("*.json"))
    sensor = _lines(files, "iotluzdatos")
    assert len(sensor) >= 3
    for r in sensor:
        assert set(r) == {"luz", "fecha"}, r
        assert 0 <= r["luz"] <= 1023
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["fecha"]), r
    # the console showed every record the files hold
    shown = [x for x in (tmp / "stdout").read_text().splitlines() if x.startswith("{")]
    assert len(shown) == sum(40 * n for n in SOURCES.values()) + len(sensor)
    assert not list(files.rglob("*.tmp")), "a file was left open"


def _env_file(path):
    return dict(ln.split("=", 1) for ln in path.read_text().splitlines() if "=" in ln)


def _s3_trees(services, topics):
    """{topic: {first offset: bytes}} of the objects the s3 sink wrote (pipelines/s3.yaml), read
    through the S3 API with boto3 from quickstart's s3proxy, started again on its data for it."""
    import boto3
    from botocore.config import Config
    script, d = str(REPO / "tests/services/s3proxy.sh"), str(services / "s3proxy")
    subprocess.run([script, "start", d], capture_output=True, timeout=120, check=True)
    try:
        env = _env_file(services / "s3proxy" / "s3proxy.env")
        c = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], region_name=env["S3_REGION"],
                         aws_access_key_id=env["S3_ACCESS_KEY_ID"],
                         aws_secret_access_key=env["S3_SECRET_ACCESS_KEY"],
                         config=Config(s3={"addressing_style": "path"}))
        out = {}
        for topic in topics:
            name = re.compile(rf"topics/{topic}/year=\d{{4}}/month=\d\d/day=\d\d/hour=\d\d/"
                              rf"{topic}\+0\+(\d{{10}})\.json")
            out[topic] = {}
            for o in c.list_objects_v2(Bucket="sluice-seed",
                                       Prefix=f"topics/{topic}/").get("Contents", []):
                m = name.fullmatch(o["Key"])
                assert m, o["Key"]
                out[topic][int(m[1])] = c.get_object(Bucket="sluice-seed",
                                                     Key=o["Key"])["Body"].read()
        assert c.list_multipart_uploads(Bucket="sluice-seed").get("Uploads", []) == []
        return out
    finally:
        subprocess.run([script, "stop", d], capture_output=True, timeout=120)


def _sftp_tree(root, topic):
    """{first offset: bytes} of the sftp-json files of topic."""
    return {int(p.name.rsplit("+", 1)[1].split(".")[0]): p.read_bytes()
            for p in (root / "topics" / topic).rglob("*.json")}


def test_scripts_quickstart_full_runs_the_seed_topology_through_the_services(tmp):
    """`scripts/quickstart --full --s3` with small counts: Kafka, the registry, MariaDB, sshd and
    s3proxy started on loopback; the sensor's readings become rows of sensores.datos and, through
    mysql-cdc, records of the Kafka topic iotluzdatos; the datagen streams go to Kafka as Avro;
    every topic ends up in the SFTP server's tree and, the same bytes, in S3 (pipelines/s3.yaml);
    Ctrl-C stops sluice cleanly and every service."""
    from confluent_kafka import Consumer, TopicPartition

    state = tmp / "state"
    env = dict(os.environ, SLUICE_STATE_DIR=str(state), SLUICE_ITERATIONS="20",
               SLUICE_MAX_INTERVAL="10ms", SLUICE_SENSOR_SPEED="20", SLUICE_POLL_INTERVAL="1s")
    out, err = open(tmp / "stdout", "wb"), open(tmp / "stderr", "wb")
    proc = subprocess.Popen([str(REPO / "scripts" / "quickstart"), "--full", "--s3"], cwd=tmp,
                            env=env,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            start_new_session=True)
    services = state / "services"
    sftp = None
    try:
        def log():
            return (tmp / "stderr").read_text(errors="replace")
        wait_until(lambda: log().count("source reached its end") >= 7 or proc.poll() is not None,
                   scaled(600), interval=0.5, what="the datagen sources to reach their iterations")
        assert proc.poll() is None, f"quickstart --full ended early:\n{log()[-3000:]}"
        sftp = _env_file(services / "sftp.env")
        bootstrap = _env_file(services / "kafka.env")["KAFKA_BOOTSTRAP"]

        def rows():
            r = subprocess.run([str(REPO / "tests/services/mariadb.sh"), "sql",
                                str(services / "mariadb"), "SELECT COUNT(*) FROM sensores.datos"],
                               capture_output=True, text=True, timeout=60)
            return int(r.stdout.split()[-1]) if r.returncode == 0 else 0

        def in_kafka(topic):
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": "quickstart-check"})
            try:
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=20)
                return hi - lo
            except Exception:
                return 0
            finally:
                c.close()
        wait_until(lambda: rows() >= 3 and in_kafka("iotluzdatos") >= 3, scaled(120),
                   interval=1, what="three sensor rows in datos and in the topic iotluzdatos")
        for topic, n in SOURCES.items():
            assert in_kafka(topic) == 20 * n, topic
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        rc = proc.wait(timeout=scaled(120))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
        err.close()
        for svc in ("kafka", "registry", "mariadb", "s3proxy"):
            subprocess.run([str(REPO / f"tests/services/{svc}.sh"), "stop", str(services / svc)],
                           capture_output=True, timeout=120)
    try:
        text = (tmp / "stderr").read_text(errors="replace")
        assert rc == 0, f"Ctrl-C: exit {rc}\n{text[-3000:]}"
        for svc, marker in (("kafka", "kafka.pid"), ("registry", "registry.pid"),
                            ("mariadb", "run/mysqld.pid"), ("sftp", "sshd.pid"),
                            ("s3proxy", "s3proxy.pid")):
            assert not (services / svc / marker).exists() or subprocess.run(
                ["kill", "-0", (services / svc / marker).read_text().strip()],
                capture_output=True).returncode != 0, f"{svc} still running"
        files = Path(sftp["SFTP_ROOT"] + sftp["SFTP_WORKING_DIR"])
        for topic, n in SOURCES.items():
            recs = _lines(files, topic)
            assert len(recs) == 20 * n, f"{topic}: {len(recs)} records over SFTP, want {20 * n}"
        sensor = _lines(files, "iotluzdatos")
        assert len(sensor) >= 3
        for r in sensor:
            assert {"id", "fecha", "luz", "hora", "modi"} <= set(r), r
        assert [r["id"] for r in sensor] == list(range(1, len(sensor) + 1))
        assert not list(files.rglob("*.tmp"))
        # S3: the datagen topics' objects are the SFTP files, name for name and byte for byte; the
        # sensor's (a stream still flowing at Ctrl-C, its objects may also close on wall time)
        # hold the same records in the same order as far as both got
        trees = _s3_trees(services, [*SOURCES, "iotluzdatos"])
        for topic in SOURCES:
            assert trees[topic] == _sftp_tree(files, topic), topic
        s3 = b"".join(b for _, b in sorted(trees["iotluzdatos"].items()))
        ftp = b"".join(b for _, b in sorted(_sftp_tree(files, "iotluzdatos").items()))
        assert s3.count(b"\n") >= 3 and (s3.startswith(ftp) or ftp.startswith(s3)), (s3, ftp)
    finally:
        subprocess.run([str(REPO / "tests/services/sftp.sh"), "clean", str(services / "sftp")],
                       capture_output=True, timeout=60)
