"""The soak test of issue 22: the seed's four streams (pipelines/iotluzdatos.yaml, flota.yaml,
orders.yaml, tarjeta.yaml, as shipped, in Kafka + SFTP mode chosen by the environment) run in one
`sluice run` against a real Kafka broker, schema registry, MariaDB and sshd for --minutes, under
steady load, with three faults on a schedule (a broker restart at 25 %, an SFTP outage at 45 %, a
MariaDB SIGKILL at 65 % of the run; each outage 4 % of the run, 10 to 60 s). At the end sluice
gets SIGTERM and independent clients check:

  - nothing lost: every row of sensores.datos (the sensor's and the load's, updates included) is in
    the topic iotluzdatos with its final value; every sensor reading of the topic
    iotluzdatos-lecturas became a row; every datagen record a source committed is in its topic;
  - each file exact: the SFTP tree of every topic holds files named after contiguous offsets from 0
    to the sink's committed offset, each line equal to the topic's record at that offset;
  - RSS flat: after the warm-up (the first 20 %), the largest VmRSS sample exceeds the warm-up's
    median by at most --rss-bound MiB (48: what the faults' buffers take), and from the end of
    the last fault to the end of the run it grows by at most --tail-bound MiB (2: a leak).

    tests/soak/run [--minutes 30] [--rss-bound 48] [--tail-bound 2] [--json FILE]

The services are started by tests/services/*.sh through the integration tests' own classes
(services.py, mariadbtest.py, sftptest.py); tests/integration/test_soak_smoke.py runs the same code
for 3 minutes with the services of its fixtures. Delivery is at least once (docs/concepts.md): a
topic may hold a record twice after a fault, the checks allow that where the design does."""
import argparse
import datetime
import io
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import kafkatest  # noqa: E402
from sluicetest import REPO, build_dir  # noqa: E402

PIPELINES = REPO / "pipelines"
STREAMS = ("iotluzdatos", "flota", "orders", "tarjeta")
DATAGEN = ("flota", "orders", "tarjeta")
# RSS, two bounds (docs/soak.md: the measurements they come from):
# - the high-water: the largest sample after the warm-up (the first 20 %) minus the warm-up's
#   median. The faults fill the buffers the design bounds (each of the 9 Kafka producers queues
#   up to its pipeline's buffer.memory, 4 MiB, while the broker is away; each of the 9 consumers
#   prefetches up to 4 MiB of the backlog when it is back; a sink holds its batch while SFTP or
#   MariaDB is away), and the allocator keeps that memory for the next time: 35 MiB measured in
#   the 30-minute run, 72 MiB allowed by the budgets; the bound is 48.
# - the leak check: from the moment the last fault is over (and settled) to the end, nothing but
#   steady load: the largest sample minus the median of the first five; 0.03 MiB measured over
#   the last five minutes of the first 30-minute run (about 40,000 records), bound 2.
RSS_BOUND_MIB = 48
TAIL_BOUND_MIB = 2
WARMUP = 0.20
LOAD_MARK = 100000       # luz of the load's rows starts here: the sensor's readings are 0..1023

DB_SETUP = """
CREATE DATABASE sensores;
CREATE TABLE sensores.datos (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    fecha DATETIME NULL,
    luz INT NULL,
    hora TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    modi TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
CREATE USER 'sluice'@'%' IDENTIFIED BY 'soak-pw';
GRANT SELECT, INSERT, UPDATE ON sensores.* TO 'sluice'@'%';
"""


def say(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Services:
    """Kafka, registry, MariaDB and sshd: given (the pytest fixtures) or started here."""

    def __init__(self, kafka=None, registry=None, mariadb=None, sftp=None):
        import mariadbtest
        import services
        import sftptest
        self.own = []
        try:
            self.kafka = kafka or self._own(services.Kafka)
            self.registry = registry or self._own(services.Registry)
            self.mariadb = mariadb or self._own(mariadbtest.MariaDB)
            self.sftp = sftp or self._own(sftptest.SftpServer)
        except BaseException:
            self.close()
            raise

    def _own(self, cls):
        say(f"starting {cls.__name__}")
        s = cls()
        self.own.append(s)
        return s

    def close(self):
        for s in reversed(self.own):
            try:
                s.close()
            except Exception as e:  # the others are stopped all the same
                say(f"stopping {type(s).__name__}: {e}")


class Sampler(threading.Thread):
    """VmRSS (KiB) and CPU seconds (utime + stime) of pid every `every` seconds."""

    def __init__(self, pid, every, log):
        super().__init__(daemon=True)
        self.pid, self.every, self.t0 = pid, every, time.monotonic()
        self.samples = []  # (seconds since start, rss KiB, cpu s)
        self.stop = threading.Event()
        self.log = open(log, "w", buffering=1)  # as it goes: a run that dies still shows its curve
        self.log.write("seconds\trss_kib\tcpu_s\n")

    def sample(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                rss = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, StopIteration):
            return None
        s = (time.monotonic() - self.t0, rss, cpu)
        self.samples.append(s)
        self.log.write(f"{s[0]:.1f}\t{rss}\t{cpu:.2f}\n")
        return s

    def run(self):
        while not self.stop.wait(self.every):
            self.sample()


class DbLoad(threading.Thread):
    """The table's other writer, at a steady pace: an INSERT with a known luz every `every` seconds
    and, every third one, an UPDATE of an earlier row of its own (mysql-cdc's timestamp mode sees
    the new modi). Statements that fail while MariaDB is down are counted and tried again."""

    def __init__(self, mariadb, every):
        super().__init__(daemon=True)
        self.db, self.every = mariadb, every
        self.inserted = self.updated = self.failed = 0
        self.stop = threading.Event()

    def run(self):
        k = 0
        while not self.stop.wait(self.every):
            k += 1
            sql = (f"INSERT INTO sensores.datos (fecha, luz) "
                   f"VALUES (UTC_TIMESTAMP(), {LOAD_MARK + k})")
            if k % 3 == 0:
                # an earlier load row gets a new value (ids of the load are found by their mark)
                sql += (f"; UPDATE sensores.datos SET luz = luz + {LOAD_MARK * 10} "
                        f"WHERE luz = {LOAD_MARK + k // 3}")
            try:
                self.db.sql(sql, timeout=30)
                self.inserted += 1
                self.updated += k % 3 == 0
            except Exception:
                self.failed += 1
                k -= 1  # the same key again next time (an INSERT may have committed: rows decide)


def env_for(svc, state):
    s = svc.sftp
    return {**os.environ,
            "SLUICE_STATE_DIR": str(state), "SLUICE_VALUE_CONVERTER": "avro",
            "KAFKA_BOOTSTRAP": svc.kafka.bootstrap, "SCHEMA_REGISTRY_URL": svc.registry.url,
            "SFTP_HOST": s.host, "SFTP_PORT": str(s.port), "SFTP_USER": s.user,
            "SFTP_PRIVATE_KEY": str(s.key), "SFTP_HOST_KEY_SHA256": s.host_key_sha256,
            "SFTP_WORKING_DIR": s.working_dir,
            "MYSQL_URL": f"jdbc:mysql://127.0.0.1:{svc.mariadb.port}/sensores",
            "MYSQL_USER": "sluice", "MYSQL_PASSWORD": "soak-pw",
            "SENSOR_DEVICE": str(state / "ttyLDR"), "SENSOR_BAUD": "9600", "SENSOR_PARSER": "int",
            "SLUICE_POLL_INTERVAL": "1s", "SLUICE_ITERATIONS": "-1"}


# -- the faults -------------------------------------------------------------------------------

def fault_kafka(svc, outage):
    svc.kafka.stop()
    time.sleep(outage)
    svc.kafka.start()


def fault_sftp(svc, outage):
    svc.sftp.stop()  # sshd and its sessions: sluice's connection drops
    time.sleep(outage)
    svc.sftp.start()


def fault_mariadb(svc, outage):
    svc.mariadb.kill()  # SIGKILL: crash recovery at the next start
    time.sleep(outage)
    svc.mariadb.start()


# at 25 %, 45 % and 65 %: the last third is quiet, for the leak check (TAIL_BOUND_MIB)
FAULTS = (("kafka broker restart", 0.25, fault_kafka),
          ("sftp outage", 0.45, fault_sftp),
          ("mariadb SIGKILL", 0.65, fault_mariadb))


# -- the checks -------------------------------------------------------------------------------

def registry_schema(url, sid):
    with urllib.request.urlopen(f"{url}/schemas/ids/{sid}", timeout=30) as resp:
        return json.loads(json.loads(resp.read())["schema"])


def topic_records(svc, topic):
    """[(offset, dict)] of the whole topic (partition 0), Avro decoded through the registry."""
    import fastavro
    msgs = kafkatest.consume(svc.kafka.bootstrap, topic, timeout=300)
    assert all(m.partition == 0 for m in msgs), f"{topic} has more than one partition"
    schemas, out = {}, []
    for m in msgs:
        if m.value[:1] == b"\0" and topic in DATAGEN:
            _, sid = struct.unpack(">bI", m.value[:5])
            if sid not in schemas:
                schemas[sid] = fastavro.parse_schema(registry_schema(svc.registry.url, sid))
            out.append((m.offset, fastavro.schemaless_reader(io.BytesIO(m.value[5:]),
                                                             schemas[sid])))
        else:
            out.append((m.offset, json.loads(m.value)))
    return out


def check_files(svc, topic, records, problems):
    """The SFTP tree of topic: contiguous files from offset 0 up to the committed offset of the
    sink sluice.<topic>.files, each line the topic's record at its offset. Returns (files, lines)."""
    from test_seed_pipelines import read_tree
    root = svc.sftp.root / svc.sftp.working_dir.lstrip("/")
    try:
        files = read_tree(root, topic)
    except AssertionError as e:
        problems.append(f"{topic}: {e}")
        return 0, 0
    by_off = dict(records)
    nxt = 0
    for off, _, recs in files:
        if off != nxt:
            problems.append(f"{topic}: file at offset {off}, expected {nxt} (a gap or an overlap)")
        for i, r in enumerate(recs):
            if by_off.get(off + i) != r:
                problems.append(f"{topic}: file +{off:010d} line {i + 1} is not the topic's "
                                f"record at offset {off + i}: {r} != {by_off.get(off + i)}")
                break
        nxt = off + len(recs)
    committed = kafkatest.committed(svc.kafka.bootstrap, kafkatest.group_id(topic, "files"),
                                    topic).get(0)
    if committed != nxt:
        problems.append(f"{topic}: files end at offset {nxt}, the sink committed {committed}")
    return len(files), nxt


# datagen pipeline → the `origin` its records carry (insert-field in pipelines/*.yaml)
ORIGINS = {"flota-description": "description", "flota-location": "location",
           "flota-sensors": "sensors", "orders-orders": "orders", "orders-purchases": "purchases",
           "tarjeta-cards": "credit_cards", "tarjeta-transactions": "transactions"}


def datagen_made(state):
    """{origin: records its source made} from the committed positions (offsets.json): datagen-avro
    keeps each task's iteration counter there, a little-endian u64 after a 19-byte head
    (plugins/datagen-avro/datagen_avro.c, dg_pos_head / dg_pos_task)."""
    import base64
    doc = json.loads((state / "offsets.json").read_text())["pipelines"]
    made = {}
    for pid, origin in ORIGINS.items():
        pos = base64.b64decode(doc[pid]["position_base64"])
        ntasks, niter = struct.unpack_from("<HH", pos, 13)
        task = 8 * (5 + niter)
        made[origin] = sum(struct.unpack_from("<Q", pos, 19 + i * task)[0]
                           for i in range(ntasks))
    return made


def check_datagen(topic, records, made, problems):
    """Every record a datagen source committed is in its topic: per origin, the topic holds at
    least as many (more only as duplicates of a retried send, which at-least-once allows)."""
    per_origin = {}
    for _, r in records:
        per_origin[r.get("origin")] = per_origin.get(r.get("origin"), 0) + 1
    for origin, n in per_origin.items():
        if made.get(origin, 0) > n:
            problems.append(f"{topic}: the source of {origin} committed {made[origin]} records, "
                            f"the topic holds {n}")
    return per_origin


def check_db(svc, records, readings, problems):
    """Every row of datos is in the topic iotluzdatos with its final luz; every sensor reading of
    iotluzdatos-lecturas (fecha, luz) became a row."""
    rows = svc.mariadb.sql("SELECT id, luz, DATE_FORMAT(fecha, '%Y-%m-%dT%H:%i:%s') "
                           "FROM sensores.datos ORDER BY id", timeout=120)
    last = {}
    for _, r in records:
        last[r["id"]] = r
    for rid, luz, _ in rows:
        got = last.get(int(rid))
        if got is None:
            problems.append(f"iotluzdatos: row id {rid} of datos is not in the topic")
        elif got["luz"] != int(luz):
            problems.append(f"iotluzdatos: row id {rid}: the topic's last record has luz "
                            f"{got['luz']}, the table {luz}")
    # a reading's fecha is its read time (ms since the epoch); the row's DATETIME has whole
    # seconds, in UTC (db.timezone): a reading matches a row of its luz within a second
    sensor_rows = {}
    for _, luz, fecha in rows:
        if int(luz) < LOAD_MARK:
            t = datetime.datetime.strptime(fecha, "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            sensor_rows.setdefault(int(luz), []).append(t)
    missing = []
    for _, r in readings:
        r = r.get("payload", r)  # the json converter's envelope (schemas.enable)
        t = r["fecha"] / 1000 if isinstance(r["fecha"], (int, float)) else None
        if t is None or not any(abs(x - t) <= 1.0 for x in sensor_rows.get(r["luz"], ())):
            missing.append(r)
    if missing:
        problems.append(f"iotluzdatos-lecturas: {len(missing)} of {len(readings)} readings have "
                        f"no row in datos (first: {missing[0]})")
    return rows


# -- the run ----------------------------------------------------------------------------------

def soak(minutes, svc, work, rss_bound_mib=RSS_BOUND_MIB, tail_bound_mib=TAIL_BOUND_MIB,
         sample_every=None, datagen_interval="100ms",
         sensor_speed=20, db_every=0.5):
    """Runs the soak; returns (figures, problems). work: an empty directory of the run's own."""
    duration = minutes * 60
    outage = min(60.0, max(10.0, duration * 0.04))  # 72 s at 30 min is capped to 60; 10 s at 3
    sample_every = sample_every or (2.0 if minutes <= 5 else 5.0)
    state = work / "state"
    state.mkdir(parents=True)
    build = build_dir()
    svc.mariadb.sql(DB_SETUP)
    env = env_for(svc, state)

    sim_log = open(work / "sensor.log", "wb")
    sim = subprocess.Popen([str(build / "firmware" / "sluice-sim"), "--daynight", "200:4800:120",
                            "--speed", str(sensor_speed), "--link", str(state / "ttyLDR"),
                            str(build / "firmware" / "ldr.elf")],
                           stdin=subprocess.DEVNULL, stdout=sim_log, stderr=sim_log)
    out = open(work / "sluice.stdout", "wb")
    err = open(work / "sluice.stderr", "wb")
    env["SLUICE_MAX_INTERVAL"] = datagen_interval
    proc = subprocess.Popen([str(build / "sluice"), "run",
                             *[PIPELINES / f"{s}.yaml" for s in STREAMS]],
                            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    sampler = Sampler(proc.pid, sample_every, work / "rss.tsv")
    sampler.sample()
    sampler.start()
    load = DbLoad(svc.mariadb, db_every)
    load.start()
    t0 = time.monotonic()
    faults, problems = [], []
    rc = figures_quiesce = None
    fault_end = duration
    try:
        for name, at, fn in FAULTS:
            while time.monotonic() - t0 < at * duration:
                if proc.poll() is not None:
                    raise RuntimeError(f"sluice exited {proc.returncode} during the soak")
                time.sleep(0.5)
            say(f"fault: {name} ({outage:.0f} s)")
            f0 = time.monotonic()
            fn(svc, outage)
            faults.append((name, round(f0 - t0), round(time.monotonic() - f0, 1)))
            fault_end = time.monotonic() - t0
        while time.monotonic() - t0 < duration:
            if proc.poll() is not None:
                raise RuntimeError(f"sluice exited {proc.returncode} during the soak")
            time.sleep(0.5)
        # the end of the table's writers: the sensor, then the load; then sluice is given time
        # to read every row (mysql-cdc polls each second) before the stop, so that the checks
        # below may ask for every row (the datagen sources go on until SIGTERM)
        sim.terminate()
        sim.wait(10)
        load.stop.set()
        load.join(60)
        t_q = time.monotonic()
        while True:
            pending = []
            check_db(svc, topic_records(svc, "iotluzdatos"),
                     topic_records(svc, "iotluzdatos-lecturas"), pending)
            if not pending or time.monotonic() - t_q > 120:
                break
            time.sleep(2)
        figures_quiesce = round(time.monotonic() - t_q, 1)
        say(f"stopping sluice (SIGTERM); the table was caught up in {figures_quiesce} s")
        sampler.sample()
        proc.send_signal(signal.SIGTERM)
        t_stop = time.monotonic()
        try:
            rc = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            problems.append("sluice did not stop within 180 s of SIGTERM (killed)")
        stop_s = time.monotonic() - t_stop
    except RuntimeError as e:
        problems.append(str(e))
        stop_s = None
    finally:
        load.stop.set()
        sampler.stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if sim.poll() is None:
            sim.terminate()
            sim.wait(10)
        for f in (out, err, sim_log):
            f.close()
    if rc not in (0, None):
        problems.append(f"sluice exited {rc} after SIGTERM")
    elapsed = time.monotonic() - t0

    say("checking what arrived (independent clients)")
    figures = {"minutes": minutes, "elapsed_s": round(elapsed), "outage_s": outage,
               "faults": faults, "stop_s": stop_s and round(stop_s, 1), "catch_up_s": figures_quiesce,
               "streams": {},
               "db": {"load_inserts": load.inserted, "load_updates": load.updated,
                      "load_failures": load.failed}}
    try:
        made = datagen_made(state)
    except (OSError, ValueError, KeyError, struct.error) as e:
        problems.append(f"offsets.json: the datagen positions cannot be read: {e}")
        made = {}
    figures["datagen_made"] = made
    for topic in STREAMS:
        recs = topic_records(svc, topic)
        nfiles, nlines = check_files(svc, topic, recs, problems)
        figures["streams"][topic] = {"topic": len(recs), "files": nfiles, "file_lines": nlines}
        if topic in DATAGEN:
            figures["streams"][topic]["per_origin"] = check_datagen(topic, recs, made, problems)
        else:
            readings = topic_records(svc, "iotluzdatos-lecturas")
            rows = check_db(svc, recs, readings, problems)
            figures["streams"][topic]["rows"] = len(rows)
            figures["streams"][topic]["readings"] = len(readings)
    # the console sinks printed at least what they committed (more after a redelivery)
    figures["console_lines"] = sum(1 for _ in open(work / "sluice.stdout", "rb"))
    screen = sum(max(0, kafkatest.committed(svc.kafka.bootstrap,
                                            kafkatest.group_id(t, "screen"), t).get(0, 0))
                 for t in STREAMS)
    figures["console_committed"] = screen
    if figures["console_lines"] < screen:
        problems.append(f"console: {figures['console_lines']} lines printed, the console sinks "
                        f"committed {screen} records")

    s = sampler.samples
    warm = [rss for t, rss, _ in s if t <= WARMUP * duration]
    after = [rss for t, rss, _ in s if WARMUP * duration < t <= duration + 1]  # not the stop
    if warm and after:
        base = statistics.median(warm)
        growth = (max(after) - base) / 1024
        figures["rss"] = {"samples": len(s), "warmup_median_mib": round(base / 1024, 1),
                          "max_mib": round(max(after) / 1024, 1),
                          "end_mib": round(after[-1] / 1024, 1),  # at SIGTERM
                          "growth_mib": round(growth, 1), "bound_mib": rss_bound_mib,
                          "cpu_s": round(s[-1][2], 1)}
        if growth > rss_bound_mib:
            problems.append(f"RSS grew {growth:.1f} MiB after the warm-up (bound "
                            f"{rss_bound_mib} MiB)")
    else:
        problems.append(f"too few RSS samples ({len(s)})")
    settle = max(15.0, 0.05 * duration)  # the backlog of the last fault is worked off
    tail = [rss for t, rss, _ in s if fault_end + settle <= t <= duration]
    if len(tail) >= 8 and "rss" in figures:
        base = statistics.median(tail[:5])
        tail_growth = (max(tail) - base) / 1024
        figures["rss"].update({"tail_from_s": round(fault_end + settle),
                               "tail_start_mib": round(base / 1024, 1),
                               "tail_growth_mib": round(tail_growth, 2),
                               "tail_bound_mib": tail_bound_mib})
        if tail_growth > tail_bound_mib:
            problems.append(f"RSS grew {tail_growth:.1f} MiB in the quiet stretch after the "
                            f"last fault ({len(tail)} samples; bound {tail_bound_mib} MiB)")
    else:
        problems.append(f"too few RSS samples after the last fault ({len(tail)})")
    sampler.log.close()
    return figures, problems


def summary(figures, problems):
    lines = [f"soak: {figures['minutes']} min (ran {figures['elapsed_s']} s), "
             f"outages of {figures['outage_s']:.0f} s, table caught up {figures['catch_up_s']} s "
             f"after its writers stopped, SIGTERM to exit {figures['stop_s']} s"]
    lines.append(f"{'stream':14} {'in topic':>9} {'files':>6} {'in files':>9}  other")
    for topic, st in figures["streams"].items():
        other = ""
        if "rows" in st:
            other = f"datos rows {st['rows']}, sensor readings {st['readings']}"
        elif "per_origin" in st:
            other = ", ".join(f"{k} {v}" for k, v in sorted(st["per_origin"].items()))
        lines.append(f"{topic:14} {st['topic']:>9} {st['files']:>6} {st['file_lines']:>9}  {other}")
    made = figures.get("datagen_made") or {}
    lines.append("datagen sources committed: " + ", ".join(f"{k} {v}" for k, v in made.items()))
    db = figures["db"]
    lines.append(f"db load: {db['load_inserts']} inserts, {db['load_updates']} updates, "
                 f"{db['load_failures']} statements refused while MariaDB was down")
    lines.append(f"console lines: {figures['console_lines']} (the console sinks committed "
                 f"{figures['console_committed']})")
    for name, at, took in figures["faults"]:
        lines.append(f"fault at {at:>5} s: {name}, {took} s until the service was back")
    r = figures.get("rss")
    if r:
        lines.append(f"RSS: warm-up median {r['warmup_median_mib']} MiB, max after warm-up "
                     f"{r['max_mib']} MiB (+{r['growth_mib']}, bound {r['bound_mib']}), end "
                     f"{r['end_mib']} MiB; CPU {r['cpu_s']} s; {r['samples']} samples")
        if "tail_growth_mib" in r:
            lines.append(f"RSS after the last fault (from {r['tail_from_s']} s): "
                         f"{r['tail_start_mib']} MiB, grew {r['tail_growth_mib']} MiB "
                         f"(bound {r['tail_bound_mib']})")
    lines.append("result: " + ("PASS" if not problems else f"FAIL ({len(problems)} problems)"))
    lines += [f"  - {p}" for p in problems[:30]]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rss-bound", type=float, default=RSS_BOUND_MIB,
                    help="MiB of RSS high-water over the warm-up")
    ap.add_argument("--tail-bound", type=float, default=TAIL_BOUND_MIB,
                    help="MiB of RSS growth after the last fault")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--work", help="the run's directory (default: a new temporary one, kept)")
    a = ap.parse_args()
    import tempfile
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="sluice-soak."))
    work.mkdir(parents=True, exist_ok=True)
    say(f"work directory {work}")
    svc = Services()
    try:
        figures, problems = soak(a.minutes, svc, work, rss_bound_mib=a.rss_bound,
                                 tail_bound_mib=a.tail_bound)
    finally:
        svc.close()
    text = summary(figures, problems)
    print(text)
    (work / "summary.txt").write_text(text + "\n")
    if a.json:
        Path(a.json).write_text(json.dumps({"figures": figures, "problems": problems}, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
