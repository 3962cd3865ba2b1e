#!/usr/bin/env python3
"""Benchmark: sluice's Kafka mode against Kafka Connect standalone and Kafka's own producer, on one
real broker (tests/services/kafka.sh) that the script starts in a temp dir and stops at the end.

1,000,000 records of 100 bytes (the lines of tests/bench/file_to_file.py: a 10-digit number, a
space, 88 letters), N runs (--runs, default 3). In each run:

  perf         Kafka's ProducerPerformance (--record-size 100, acks=all, idempotent): the ceiling
  connect-src  Kafka Connect standalone, FileStreamSource file → topic (StringConverter)
  sluice-src   sluice file → Kafka (follow: false: ends by itself once every record is acknowledged)
  connect-snk  Kafka Connect standalone, FileStreamSink topic → file
  sluice-snk   sluice Kafka → file (its consumer group sluice.bench-consume.out; SIGTERM once the
               file holds every record)
and the ceilings (issue 23), in the same run:
  kcat-src     `kcat -P` of the same file with sluice's own producer settings (read back from a
               probe run of sluice at --log-level debug, which logs what it passes to librdkafka)
  kcat-snk     `kcat -C -e` (the legacy consumer: no group) of sluice-src's topic into a file
  rdk-snk      a plain librdkafka group consumer (tests/bench/rdk_consume.c, built here with cc
               and pkg-config rdkafka; the group join counts, as sluice's does)
Every scenario also reports CPU seconds (GNU time's user + system); the summary gives each figure's
spread over the runs (min / median / max) and sluice / ceiling.

Every producer writes into a fresh topic of one partition; both sinks read the topic sluice-src
wrote in the same run (connect-src's if sluice-src was not run), each with a group of its own, into
a fresh file. Times run from the launch of the process (JVM start-up and plugin scanning included,
"minus nothing") to the moment the topic's end offset / the output file's size shows every record
(polled every 0.1 s). "first record" is the launch → first record visible, i.e. start-up, and
"then" the rate from there to the last record. Peak RSS: GNU
time's %M (for Connect and ProducerPerformance, the java process started by `kafka.sh run`).

Not a timed test: it never fails on speed. Figures go to docs/performance.md.

usage: tests/bench/kafka_bench.py [--build DIR] [--records N] [--runs N] [--only LIST] [--workdir DIR]
Needs confluent-kafka: run it with the tests' venv (scripts/test makes ~/.cache/sluice/venv); when
it is not importable the script re-executes itself with that venv's python.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "tests" / "services" / "kafka.sh"
VENV_PY = Path(os.environ.get("SLUICE_VENV",
                              Path(os.environ.get("SLUICE_CACHE", Path.home() / ".cache" / "sluice"))
                              / "venv")) / "bin" / "python"

try:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    if VENV_PY.exists() and Path(sys.executable) != VENV_PY and not os.environ.get("SLUICE_BENCH_REEXEC"):
        os.environ["SLUICE_BENCH_REEXEC"] = "1"
        os.execv(str(VENV_PY), [str(VENV_PY), __file__, *sys.argv[1:]])
    sys.exit("kafka_bench: needs confluent-kafka (run `. scripts/lib/deps.sh; deps_venv`, then "
             f"{VENV_PY} {sys.argv[0]})")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_file import generate  # noqa: E402  the same 100-byte lines
from benchlib import descendants  # noqa: E402

SCENARIOS = ("perf", "connect-src", "kcat-src", "sluice-src", "connect-snk", "kcat-snk", "rdk-snk",
             "sluice-snk")
POLL = 0.1
RECORD = 100


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Timed:
    """A command run under /usr/bin/time -f %M, in a session of its own; `target` is the process
    that gets SIGTERM (the java or sluice process below time, bash and timeout)."""

    def __init__(self, argv, work, name, marker, stdout=None):
        self.rss_file = work / f"{name}.rss"
        self.out = open(work / f"{name}.log", "wb")
        self.name, self.marker = name, marker
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", str(self.rss_file),
                                      *argv],
                                     stdin=subprocess.DEVNULL, stdout=stdout or self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def target(self):
        """The deepest process below time whose command line has the marker: the java process,
        not the bash of kafka.sh or timeout that carry the same arguments."""
        found = None
        for p in descendants(self.proc.pid):
            if self.marker in cmdline(p):
                found = p
        return found

    def terminate(self, timeout=60):
        """SIGTERM to the target (a clean stop), then wait; SIGKILL to the group after timeout."""
        if self.proc.poll() is None:
            p = self.target()
            if p:
                os.kill(p, signal.SIGTERM)
            else:
                os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"{self.name}: still running {timeout} s after SIGTERM: SIGKILL")
            self.kill()

    def kill(self):
        """SIGKILL to every process below time (timeout puts java in a process group of its
        own, so the group of time is not enough), then to time."""
        if self.proc.poll() is None:
            for p in reversed(descendants(self.proc.pid)):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)

    def rss_mib(self):
        try:  # "Command exited with non-zero status 143" may precede the figures
            return int(self.rss_file.read_text().split()[-3]) / 1024
        except (OSError, ValueError, IndexError):
            return float("nan")

    def cpu_s(self):
        """User + system seconds of the command and its children (GNU time's %U %S)."""
        try:
            f = self.rss_file.read_text().split()
            return float(f[-2]) + float(f[-1])
        except (OSError, ValueError, IndexError):
            return float("nan")

    def close(self):
        self.kill()
        self.out.close()


class Broker:
    def __init__(self, work):
        self.dir = work / "kafka"
        self.dir.mkdir()
        r = subprocess.run([str(KAFKA_SH), "start", str(self.dir)], capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            sys.exit(f"kafka_bench: kafka.sh start failed:\n{r.stdout}{r.stderr}")
        self.bootstrap = [ln.split("=", 1)[1] for ln in r.stdout.splitlines()
                          if ln.startswith("KAFKA_BOOTSTRAP=")][0]
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        self.probe = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "sluice-bench-probe",
                               "enable.auto.commit": False, "log_level": 0})

    def create(self, topic):
        for f in self.admin.create_topics([NewTopic(topic, 1, 1)], request_timeout=30).values():
            f.result(60)
        deadline = time.monotonic() + 60
        while self.end(topic) is None:
            if time.monotonic() > deadline:
                sys.exit(f"kafka_bench: topic {topic} not visible after 60 s")
            time.sleep(0.1)
        return topic

    def delete(self, *topics):
        try:
            for f in self.admin.delete_topics(list(topics), request_timeout=30).values():
                f.result(60)
        except Exception as e:  # noqa: BLE001 - only disk space is at stake
            log(f"could not delete {topics}: {e}")

    def end(self, topic):
        try:
            return self.probe.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1]
        except Exception as e:  # noqa: BLE001 - not there yet, or not in the probe's metadata
            if os.environ.get("SLUICE_BENCH_DEBUG"):
                log(f"end offset of {topic}: {e}")
            try:  # a new topic stays unknown to the probe until its metadata is refreshed
                self.probe.list_topics(topic, timeout=5)
            except Exception:  # noqa: BLE001
                pass
            return None

    def close(self):
        try:
            self.probe.close()
            del self.admin
        finally:
            subprocess.run([str(KAFKA_SH), "stop", str(self.dir)], timeout=120,
                           stdin=subprocess.DEVNULL)


def watch(t, progress, n, timeout, ends_by_itself=False):
    """Polls progress() every POLL s until it reaches n. Returns (first, done): seconds from the
    launch of t to the first record and to the last. ends_by_itself: t must exit 0 on its own."""
    first = None
    deadline = t.t0 + timeout
    while True:
        got = progress() or 0
        now = time.monotonic()
        if got > 0 and first is None:
            first = now - t.t0
        if got >= n:
            done = now - t.t0
            break
        rc = t.proc.poll()
        if rc is not None and not ends_by_itself:
            sys.exit(f"kafka_bench: {t.name} exited ({rc}) with {got} of {n} records; see its log")
        if rc is not None and ends_by_itself and (progress() or 0) < n:
            sys.exit(f"kafka_bench: {t.name} exited ({rc}) with {progress()} of {n} records")
        if now > deadline:
            sys.exit(f"kafka_bench: {t.name}: {got} of {n} records after {timeout} s")
        time.sleep(POLL)
    return first, done


def file_records(path):
    try:
        return path.stat().st_size // RECORD
    except FileNotFoundError:
        return 0


def connect_worker(run, bootstrap, name):
    w = run / f"{name}-worker.properties"
    w.write_text(f"""bootstrap.servers={bootstrap}
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename={run / (name + '.offsets')}
offset.flush.interval.ms=10000
listeners=http://127.0.0.1:{free_port()}
plugin.discovery=service_load
""")
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("SLUICE_BUILD", "build"))
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help=f"comma-separated subset of {','.join(SCENARIOS)}")
    ap.add_argument("--workdir", help="where the broker, inputs and outputs go (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=600, help="per scenario, seconds")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the broker's warm-up (kcat writes the input once, not measured)")
    ap.add_argument("--sluice-kafka", action="append", default=[], metavar="PROP=VALUE",
                    help="extra librdkafka property in sluice's kafka: block (repeatable)")
    a = ap.parse_args()
    only = [s for s in a.only.split(",") if s]
    for s in only:
        if s not in SCENARIOS:
            sys.exit(f"kafka_bench: unknown scenario {s} (have {', '.join(SCENARIOS)})")
    n = a.records
    build = Path(a.build)
    sluice = (build if build.is_absolute() else REPO / build) / "sluice"
    if any(s.startswith("sluice") for s in only) and not os.access(sluice, os.X_OK):
        sys.exit(f"kafka_bench: {sluice} is not built")

    work = Path(a.workdir or tempfile.mkdtemp(prefix="sluice-kbench."))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "in.txt"
    log(f"generating {n} lines of {RECORD} bytes in {src}")
    generate(src, n)
    extra_kafka = "".join(f"\n  {kv.split('=', 1)[0]}: {kv.split('=', 1)[1]}"
                          for kv in a.sluice_kafka)
    jvm = os.environ.get("SLUICE_KAFKA_RUN_JVM", "-Xms256m -Xmx1g -XX:+UseG1GC")
    print(f"kafka_bench: {n:,} records of {RECORD} B, {a.runs} runs; sluice {sluice}; "
          f"JVMs: {jvm}", flush=True)

    # SIGTERM/SIGHUP become KeyboardInterrupt so that the finally below stops everything
    def interrupted(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    live = []
    broker = None
    results = {s: [] for s in only}   # scenario -> [dict(secs, rps, first, rss, tool_rps)]

    def record(name, i, secs, first, rss, extra="", cpu=float("nan")):
        rps = n / secs
        steady = n / max(secs - first, 1e-3)
        results[name].append({"secs": secs, "rps": rps, "first": first, "steady": steady,
                              "rss": rss, "cpu": cpu})
        print(f"run {i} {name:12s} {secs:7.2f} s {rps:10,.0f} records/s  first record "
              f"{first:5.2f} s  then {steady:10,.0f} records/s  peak RSS {rss:7.1f} MiB  "
              f"CPU {cpu:5.2f} s{extra}", flush=True)
        return results[name][-1]

    try:
        log("starting the broker (tests/services/kafka.sh start)")
        broker = Broker(work)
        log(f"broker at {broker.bootstrap}")
        if not a.no_warmup:
            # a fresh JVM broker is several times slower for its first million records (JIT);
            # whatever runs first would pay for it
            t0 = time.monotonic()
            warm = broker.create("bench-warmup")
            subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", warm, "-l", str(src)],
                           check=True, timeout=a.timeout, stdin=subprocess.DEVNULL)
            subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", warm, "-o", "beginning",
                            "-e", "-q", "-f", "%o\n"], check=True, timeout=a.timeout,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            broker.delete(warm)
            log(f"broker warmed up: {n:,} records written and read with kcat in "
                f"{time.monotonic() - t0:.1f} s")
        kcat_p = []
        if "kcat-src" in only:
            kcat_p = producer_settings(sluice, broker, work, a.timeout)
            log(f"sluice's producer settings for kcat -P: {' '.join(kcat_p) or '(none)'}")
        rdk = None
        if "rdk-snk" in only:
            rdk = work / "rdk_consume"
            cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], check=True,
                                    capture_output=True, text=True).stdout.split()
            subprocess.run(["cc", "-O2", "-o", str(rdk), str(Path(__file__).parent /
                                                               "rdk_consume.c"), *cflags],
                           check=True)
        for i in range(1, a.runs + 1):
            run = work / f"run{i}"
            run.mkdir()
            made = []
            sink_topic = None

            if "perf" in only:
                topic = broker.create(f"bench-perf-{i}")
                made.append(topic)
                t = Timed([str(KAFKA_SH), "run", str(broker.dir),
                           "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                           "--num-records", str(n), "--record-size", str(RECORD),
                           "--throughput", "-1", "--producer-props",
                           f"bootstrap.servers={broker.bootstrap}", "acks=all",
                           "enable.idempotence=true"], run, "perf", "ProducerPerformance")
                live.append(t)
                first, done = watch(t, lambda: broker.end(topic), n, a.timeout,
                                    ends_by_itself=True)
                t.proc.wait(a.timeout)
                tool = None
                text = (run / "perf.log").read_text(errors="replace")
                for ln in text.splitlines():
                    if f"{n} records sent" in ln:
                        tool = float(ln.split(",")[1].split()[0])
                if t.proc.returncode != 0 or tool is None:
                    sys.exit(f"kafka_bench: ProducerPerformance failed ({t.proc.returncode}):\n"
                             f"{text[-3000:]}")
                r = record("perf", i, done, first, t.rss_mib(),
                           f"  (tool's own figure {tool:,.0f} records/s)", t.cpu_s())
                r["tool_rps"] = tool
                t.close()
                live.remove(t)

            if "connect-src" in only:
                topic = broker.create(f"bench-connect-{i}")
                made.append(topic)
                sink_topic = topic
                w = connect_worker(run, broker.bootstrap, "connect-src")
                c = run / "file-source.properties"
                c.write_text(f"""name=bench-src-{i}
connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector
tasks.max=1
file={src}
topic={topic}
batch.size=2000
""")
                t = Timed([str(KAFKA_SH), "run", str(broker.dir),
                           "org.apache.kafka.connect.cli.ConnectStandalone", str(w), str(c)],
                          run, "connect-src", "ConnectStandalone")
                live.append(t)
                first, done = watch(t, lambda: broker.end(topic), n, a.timeout)
                t.terminate()
                record("connect-src", i, done, first, t.rss_mib(), cpu=t.cpu_s())
                t.close()
                live.remove(t)

            if "kcat-src" in only:
                topic = broker.create(f"bench-kcat-{i}")
                made.append(topic)
                if sink_topic is None and "sluice-src" not in only:
                    sink_topic = topic
                args = [x for kv in kcat_p for x in ("-X", kv)]
                t = Timed(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, *args, "-l",
                           str(src)], run, "kcat-src", "kcat")
                live.append(t)
                first, done = watch(t, lambda: broker.end(topic), n, a.timeout,
                                    ends_by_itself=True)
                t.proc.wait(a.timeout)
                record("kcat-src", i, done, first, t.rss_mib(), cpu=t.cpu_s())
                t.close()
                live.remove(t)

            if "sluice-src" in only:
                topic = broker.create(f"bench-sluice-{i}")
                made.append(topic)
                sink_topic = topic
                cfg = run / "produce.yaml"
                cfg.write_text(f"""version: 1
kafka:
  bootstrap.servers: {broker.bootstrap}{extra_kafka}
offset.storage.file.filename: {run / 'sluice-produce.offsets.json'}
pipelines:
  - id: bench-produce
    topic: {topic}
    key.converter: string
    value.converter: string
    source: {{plugin: file, config: {{file: {src}, follow: false}}}}
""")
                t = Timed([str(sluice), "run", "--quiet", str(cfg)], run, "sluice-src",
                          str(sluice))
                live.append(t)
                first, done = watch(t, lambda: broker.end(topic), n, a.timeout,
                                    ends_by_itself=True)
                try:
                    t.proc.wait(a.timeout)
                except subprocess.TimeoutExpired:
                    sys.exit("kafka_bench: sluice file → Kafka did not end by itself")
                if t.proc.returncode != 0:
                    sys.exit(f"kafka_bench: sluice file → Kafka exited {t.proc.returncode}:\n"
                             f"{(run / 'sluice-src.log').read_text(errors='replace')[-3000:]}")
                exit_s = time.monotonic() - t.t0
                if broker.end(topic) != n:
                    sys.exit(f"kafka_bench: {topic} holds {broker.end(topic)} records, want {n}")
                record("sluice-src", i, done, first, t.rss_mib(), f"  (exit after {exit_s:.2f} s)",
                       t.cpu_s())
                t.close()
                live.remove(t)

            if sink_topic is None and any(s.endswith("-snk") for s in only):
                sink_topic = broker.create(f"bench-input-{i}")
                made.append(sink_topic)
                log(f"filling {sink_topic} for the sinks (ProducerPerformance cannot: no lines)")
                subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", sink_topic, "-l",
                                str(src)], check=True, timeout=a.timeout)
            if sink_topic is not None and broker.end(sink_topic) != n:
                sys.exit(f"kafka_bench: {sink_topic} holds {broker.end(sink_topic)} records")

            if "connect-snk" in only:
                out = run / "connect-out.txt"
                w = connect_worker(run, broker.bootstrap, "connect-snk")
                c = run / "file-sink.properties"
                c.write_text(f"""name=bench-snk-{i}
connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector
tasks.max=1
file={out}
topics={sink_topic}
consumer.override.auto.offset.reset=earliest
""")
                t = Timed([str(KAFKA_SH), "run", str(broker.dir),
                           "org.apache.kafka.connect.cli.ConnectStandalone", str(w), str(c)],
                          run, "connect-snk", "ConnectStandalone")
                live.append(t)
                first, done = watch(t, lambda: file_records(out), n, a.timeout)
                t.terminate()
                if out.stat().st_size != src.stat().st_size:
                    sys.exit(f"kafka_bench: {out} has {out.stat().st_size} bytes, want "
                             f"{src.stat().st_size}")
                record("connect-snk", i, done, first, t.rss_mib(), cpu=t.cpu_s())
                t.close()
                live.remove(t)
                out.unlink()

            for name in ("kcat-snk", "rdk-snk"):
                if name not in only:
                    continue
                out = run / f"{name}-out.txt"
                with open(out, "wb") as f:
                    if name == "kcat-snk":
                        argv = ["kcat", "-C", "-b", broker.bootstrap, "-t", sink_topic, "-o",
                                "beginning", "-e", "-q"]
                    else:
                        argv = [str(rdk), broker.bootstrap, sink_topic, f"bench-rdk-{i}", str(n)]
                    t = Timed(argv, run, name, argv[0], stdout=f)
                    live.append(t)
                    first, done = watch(t, lambda: file_records(out), n, a.timeout,
                                        ends_by_itself=True)
                    t.proc.wait(a.timeout)
                if out.read_bytes() != src.read_bytes():
                    sys.exit(f"kafka_bench: {out} differs from {src}")
                record(name, i, done, first, t.rss_mib(), cpu=t.cpu_s())
                t.close()
                live.remove(t)
                out.unlink()

            if "sluice-snk" in only:
                out = run / "sluice-out.txt"
                cfg = run / "consume.yaml"
                cfg.write_text(f"""version: 1
kafka:
  bootstrap.servers: {broker.bootstrap}{extra_kafka}
offset.storage.file.filename: {run / 'sluice-consume.offsets.json'}
pipelines:
  - id: bench-consume
    topic: {sink_topic}
    value.converter: string
    sinks:
      - {{id: out, plugin: file, config: {{file: {out}}}}}
""")
                t = Timed([str(sluice), "run", "--quiet", str(cfg)], run, "sluice-snk",
                          str(sluice))
                live.append(t)
                first, done = watch(t, lambda: file_records(out), n, a.timeout)
                t.terminate()
                if t.proc.returncode not in (0, 143, -15):
                    log(f"sluice Kafka → file exited {t.proc.returncode} after SIGTERM")
                if out.read_bytes() != src.read_bytes():
                    sys.exit(f"kafka_bench: {out} differs from {src}")
                record("sluice-snk", i, done, first, t.rss_mib(), cpu=t.cpu_s())
                t.close()
                live.remove(t)
                out.unlink()

            broker.delete(*made)
    except KeyboardInterrupt:
        log("interrupted")
        raise
    finally:
        for t in live:
            t.close()
        if broker:
            log("stopping the broker")
            broker.close()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)

    report(results, n)


def producer_settings(sluice, broker, work, timeout):
    """What sluice passes to librdkafka for a file → Kafka pipeline, as kcat -X arguments: a
    one-record probe run at --log-level debug, whose producer logs its settings that are not at
    librdkafka's default. client.id and the statistics interval (sluice has a callback for them,
    kcat would print them) are left out; bootstrap.servers is kcat's -b."""
    probe = work / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "in.txt").write_text("probe\n")
    topic = broker.create("bench-probe")
    cfg = probe / "probe.yaml"
    cfg.write_text(f"""version: 1
kafka:
  bootstrap.servers: {broker.bootstrap}
offset.storage.file.filename: {probe / 'offsets.json'}
pipelines:
  - id: bench-produce
    topic: {topic}
    key.converter: string
    value.converter: string
    source: {{plugin: file, config: {{file: {probe / 'in.txt'}, follow: false}}}}
""")
    r = subprocess.run([str(sluice), "run", "--quiet", "--log-level", "debug", str(cfg)],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    broker.delete(topic)
    mark = "librdkafka producer settings (those not at their default):"
    for ln in (r.stdout + r.stderr).splitlines():
        if mark in ln:
            return [kv for kv in ln.split(mark, 1)[1].split()
                    if kv.split("=", 1)[0] not in ("client.id", "bootstrap.servers",
                                                   "metadata.broker.list",
                                                   "statistics.interval.ms")
                    and "(secret)" not in kv]
    sys.exit(f"kafka_bench: sluice's probe run logged no producer settings:\n{r.stderr[-2000:]}")


CEILINGS = (("file → Kafka", "sluice-src", "kcat-src"), ("Kafka → file", "sluice-snk", "kcat-snk"),
            ("Kafka → file", "sluice-snk", "rdk-snk"))


def spread(results):
    """min / median / max per figure and scenario, and sluice / ceiling of the medians."""
    keys = (("secs", "whole run s"), ("first", "first record s"), ("steady", "then records/s"),
            ("cpu", "CPU s"), ("rss", "peak RSS MiB"))
    print("\nspread (min / median / max):")
    for name, rs in results.items():
        if not rs:
            continue
        cells = []
        for k, label in keys:
            v = sorted(r[k] for r in rs)
            fmt = "{:,.0f}" if k == "steady" else "{:.2f}"
            cells.append(f"{label} " + " / ".join(fmt.format(x) for x in
                                                  (v[0], statistics.median(v), v[-1])))
        print(f"  {name:12s} " + "; ".join(cells))
    print("\nsluice / ceiling (medians; for times, CPU and RSS lower is better, for the rate "
          "higher):")
    for what, mine, ceil in CEILINGS:
        if not results.get(mine) or not results.get(ceil):
            continue
        m = {k: statistics.median(r[k] for r in results[mine]) for k, _ in keys}
        c = {k: statistics.median(r[k] for r in results[ceil]) for k, _ in keys}
        worst = max(r["secs"] for r in results[mine]) / min(r["secs"] for r in results[mine])
        print(f"  {what} against {ceil}: whole run {c['secs'] / m['secs']:.2f} of the ceiling's "
              f"speed; first record {m['first'] / c['first']:.2f}x; then "
              f"{m['steady'] / c['steady']:.2f}x; CPU {m['cpu'] / c['cpu']:.2f}x; RSS "
              f"{m['rss'] / c['rss']:.2f}x; sluice's slowest / fastest run {worst:.2f}")


def report(results, n):
    spread(results)
    med = {}
    print("\nmedians:")
    for name, rs in results.items():
        if not rs:
            continue
        m = {k: statistics.median(r[k] for r in rs)
             for k in ("secs", "rps", "first", "steady", "rss")}
        if "tool_rps" in rs[0]:
            m["tool_rps"] = statistics.median(r["tool_rps"] for r in rs)
        med[name] = m
        extra = f"  (tool's own figure {m['tool_rps']:,.0f} records/s)" if "tool_rps" in m else ""
        print(f"  {name:12s} {m['secs']:7.2f} s {m['rps']:10,.0f} records/s  first record "
              f"{m['first']:5.2f} s  then {m['steady']:10,.0f} records/s  peak RSS "
              f"{m['rss']:7.1f} MiB{extra}")

    def ratio(label, num, den, target, higher=True):
        if num is None or den is None:
            return
        v = num / den
        ok = v >= target if higher else v <= target
        sign = "≥" if higher else "≤"
        print(f"  {label:44s} {v:7.2f}   target {sign} {target:g}  {'met' if ok else 'NOT met'}")

    g = lambda s, k: med.get(s, {}).get(k)  # noqa: E731
    print("\nratios (of medians):")
    for side in ("src", "snk"):
        what = "file → Kafka" if side == "src" else "Kafka → file"
        ratio(f"{what}: sluice / Connect throughput", g(f"sluice-{side}", "rps"),
              g(f"connect-{side}", "rps"), 2)
        ratio(f"{what}: Connect RSS / sluice RSS", g(f"connect-{side}", "rss"),
              g(f"sluice-{side}", "rss"), 10)
    for side in ("src", "snk"):
        what = "file → Kafka" if side == "src" else "Kafka → file"
        ratio(f"  ({what}, after the first record)", g(f"sluice-{side}", "steady"),
              g(f"connect-{side}", "steady"), 2)
    ratio("file → Kafka: sluice / ProducerPerformance", g("sluice-src", "rps"),
          g("perf", "tool_rps"), 0.7)
    ratio("  (against the tool's wall time, JVM incl.)", g("sluice-src", "rps"), g("perf", "rps"),
          0.7)


if __name__ == "__main__":
    main()
