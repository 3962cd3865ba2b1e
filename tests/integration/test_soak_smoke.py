"""The soak test of issue 22 (tests/soak/soak.py) in its 3-minute form: the seed's four streams
through Kafka, the registry, MariaDB and SFTP, with the broker restarted at 45 s, sshd away at 81 s
and MariaDB killed at 117 s (10 s each); then nothing lost, each file exact, RSS flat. The full
30-minute run is `tests/soak/run` (docs/soak.md)."""
import sys

from sluicetest import REPO

sys.path.insert(0, str(REPO / "tests" / "soak"))
import soak  # noqa: E402


def test_soak_smoke(tmp, kafka_own, schema_registry, mariadb, sftp_server):
    svc = soak.Services(kafka_own, schema_registry, mariadb, sftp_server)
    figures, problems = soak.soak(3, svc, tmp)
    text = soak.summary(figures, problems)
    print(text)
    assert not problems, text
    # every fault happened and every stream moved records through it
    assert [f[0] for f in figures["faults"]] == [f[0] for f in soak.FAULTS], text
    for topic, st in figures["streams"].items():
        assert st["file_lines"] > 0, text
