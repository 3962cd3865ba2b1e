"""A Kafka Connect REST client that operators use (PyPI's kafka-connect-py, pinned in
scripts/lib/deps.sh) drives the worker (issue 17): create, list, status, pause, resume, restart,
delete, with Kafka's quickstart FileStream connectors and the records checked in the sink's file.
The same test runs against a real Kafka Connect standalone worker, which proves the test itself."""
import time

import pytest
from kafka_connect import KafkaConnect
from requests.exceptions import HTTPError

from kafkatest import create_topic, uniq
from resttest import poll
from sluicetest import line, scaled


@pytest.fixture(scope="module", params=["connect", "sluice"])
def worker_url(request):
    """The REST API of a real Kafka Connect worker, or of `sluice run` with no pipeline."""
    return request.getfixturevalue("connect" if request.param == "connect" else "sluice_rest").url


def lines(start, n):
    return "".join(line(i) for i in range(start, start + n)).encode()


def read(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_client_drives_the_worker(worker_url, kafka, tmp_path):
    kc = KafkaConnect(url=worker_url)
    info = kc.get_cluster_info()
    assert isinstance(info.get("version"), str) and info.get("kafka_cluster_id"), info

    topic = create_topic(kafka.bootstrap, uniq("client"))
    src_name, snk_name = uniq("client-source"), uniq("client-sink")
    src_file, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src_file.write_bytes(lines(0, 30))

    created = kc.create_connector({"name": src_name, "config": {
        "connector.class": "FileStreamSource", "tasks.max": "1", "file": str(src_file),
        "topic": topic}})
    assert created["name"] == src_name and created["type"] == "source", created
    created = kc.create_connector({"name": snk_name, "config": {
        "connector.class": "FileStreamSink", "tasks.max": "1", "file": str(out),
        "topics": topic}})
    assert created["name"] == snk_name and created["type"] == "sink", created

    def state(name):
        s = kc.get_connector_status(name)
        return s["connector"]["state"], [t["state"] for t in s["tasks"]]

    def wait_state(name, want):
        poll(f"{name} {want}", lambda: state(name) == (want, [want]), timeout=60)

    def wait_out(want, what):
        poll(f"the sink's file {what}", lambda: read(out) == want, timeout=90)

    wait_state(src_name, "RUNNING")
    wait_state(snk_name, "RUNNING")
    wait_out(lines(0, 30), "holds the source's lines")

    # list: names, expanded, and the client's own filters over the expanded status
    assert sorted(kc.list_connectors()) == sorted([src_name, snk_name])
    expanded = kc.list_connectors(expand="status")
    assert sorted(expanded) == sorted([src_name, snk_name])
    assert expanded[src_name]["status"]["type"] == "source", expanded
    assert sorted(kc.list_connectors(state="running")) == sorted([src_name, snk_name])
    assert kc.list_connectors(pattern="client-sink") == [snk_name]
    assert kc.get_connector(src_name)["config"]["file"] == str(src_file)
    assert kc.get_connector_config(snk_name)["topics"] == topic
    tasks = kc.list_connector_tasks(src_name)
    assert [t["id"] for t in tasks] == [{"connector": src_name, "task": 0}], tasks
    assert kc.get_connector_task_status(src_name, 0)["state"] == "RUNNING"
    assert kc.list_connector_topics(snk_name) == {snk_name: {"topics": [topic]}}

    # pause: nothing flows, the client's state filter sees it; resume: from the same place
    kc.pause_connector(src_name)
    wait_state(src_name, "PAUSED")
    assert kc.list_connectors(state="paused") == [src_name]
    with open(src_file, "ab") as f:
        f.write(lines(30, 10))
    time.sleep(scaled(3))
    assert read(out) == lines(0, 30), "records flowed while the source was paused"
    kc.resume_connector(src_name)
    wait_state(src_name, "RUNNING")
    wait_out(lines(0, 40), "holds the lines appended while paused")

    # restart: the connector (the client sends includeTasks=False&onlyFailed=False: 204), with its
    # tasks (202 and a status), one task (204); nothing read twice
    assert kc.restart_connector(src_name) is None
    wait_state(src_name, "RUNNING")
    st = kc.restart_connector(src_name, include_tasks=True)
    assert st["name"] == src_name and len(st["tasks"]) == 1, st
    wait_state(src_name, "RUNNING")
    kc.restart_connector_task(src_name, 0)
    wait_state(src_name, "RUNNING")
    with open(src_file, "ab") as f:
        f.write(lines(40, 10))
    wait_out(lines(0, 50), "holds every line once after the restarts")

    # delete: gone from the list, a 404 for the client
    kc.delete_connector(src_name)
    kc.delete_connector(snk_name)
    assert kc.list_connectors() == []
    with pytest.raises(HTTPError) as e:
        kc.get_connector(src_name)
    assert e.value.response.status_code == 404
