"""What the Kafka benchmarks share (datagen_bench, sftp_json_bench, mysql_cdc_bench): the repository
paths, running themselves with the tests' venv when confluent-kafka is missing, the service
scripts of tests/services/, and topic helpers. Import it first:

    import benchlib
    benchlib.need_kafka_client()      # re-executes with the venv's python if needed
    from benchlib import log, service, ...
"""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "tests" / "services"
VENV_PY = Path(os.environ.get("SLUICE_VENV",
                              Path(os.environ.get("SLUICE_CACHE", Path.home() / ".cache" / "sluice"))
                              / "venv")) / "bin" / "python"


def need_kafka_client():
    """confluent-kafka is in the tests' venv (~/.cache/sluice/venv), not in the system: when it
    cannot be imported, run the calling script again with the venv's python."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        main = Path(sys.argv[0]).resolve()
        if VENV_PY.exists() and Path(sys.executable) != VENV_PY \
                and not os.environ.get("SLUICE_BENCH_REEXEC"):
            os.environ["SLUICE_BENCH_REEXEC"] = "1"
            os.execv(str(VENV_PY), [str(VENV_PY), str(main), *sys.argv[1:]])
        sys.exit(f"{main.name}: needs confluent-kafka (run `. scripts/lib/deps.sh; deps_venv`, "
                 f"then {VENV_PY} {sys.argv[0]})")


def _children_map():
    """{parent pid: [child pids]} of every process, from /proc's parent links (children of any
    thread, not only the main one's)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids


def children(pid):
    return _children_map().get(pid, [])


def descendants(pid):
    """Pids of every process below pid, parents before their children."""
    kids = _children_map()
    out, pending = [], [pid]
    while pending:
        below = kids.get(pending.pop(), [])
        out += below
        pending += below
    return out


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def service(script, *args, timeout=300, env=None):
    """Runs tests/services/SCRIPT ARGS...; its stdout (the KEY=value facts of `start`)."""
    r = subprocess.run([str(SERVICES / script), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(map(str, args[:2]))} failed ({r.returncode}):\n"
                           f"{r.stdout}\n{r.stderr}")
    return r.stdout


def env_of(out):
    """The KEY=value lines of a service script's output, as a dict."""
    return dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)


def value_of(out, key):
    v = env_of(out).get(key)
    if v is None:
        raise RuntimeError(f"no {key}= in:\n{out}")
    return v.strip()


def create_topic(bootstrap, topic, partitions=1):
    """Creates the topic and waits until its partitions have leaders."""
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([NewTopic(topic, num_partitions=partitions,
                                       replication_factor=1)]).values():
        f.result(timeout=60)
    deadline = time.monotonic() + 60
    while True:
        t = a.list_topics(topic=topic, timeout=20).topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} not ready")
        time.sleep(0.1)


def end_offset(bootstrap, topic):
    """The end offset of partition 0; 0 for a topic that does not exist or has no leader yet."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sluice-bench-check"})
    try:
        t = c.list_topics(topic, timeout=10).topics.get(topic)
        if t is None or t.error is not None or not t.partitions:
            return 0
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)[1]
    except KafkaException:
        return 0
    finally:
        c.close()
