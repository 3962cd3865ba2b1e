"""The offsets file and its directory (issue #22), through `sluice run`: a link planted at
<offsets>.tmp is not written through, the files are 0600, a state directory others may write to is
refused with exit 2 and a message that says what to do, and without offset.storage.file.filename
the positions go to systemd's $STATE_DIRECTORY."""
import json

from sluicetest import file_to_file_yaml, write_lines, write_yaml


def test_planted_tmp_link_is_not_followed_and_files_are_0600(sluice, tmp):
    write_lines(tmp / "in.txt", 5)
    state = tmp / "state"
    state.mkdir(mode=0o700)
    victim = tmp / "victim"
    victim.write_text("precious\n")
    (state / "offsets.json.tmp").symlink_to(victim)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(tmp / "in.txt", tmp / "out.txt",
                                                       state / "offsets.json"))
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "precious\n"
    offsets = state / "offsets.json"
    assert not offsets.is_symlink()
    assert "copy" in json.loads(offsets.read_text())["pipelines"]
    assert offsets.stat().st_mode & 0o777 == 0o600
    assert (state / "offsets.json.lock").stat().st_mode & 0o777 == 0o600


def test_world_writable_state_directory_is_refused(sluice, tmp):
    write_lines(tmp / "in.txt", 1)
    state = tmp / "shared"
    state.mkdir()
    state.chmod(0o777)
    cfg = write_yaml(tmp / "p.yaml", file_to_file_yaml(tmp / "in.txt", tmp / "out.txt",
                                                       state / "offsets.json"))
    r = sluice.run("run", "--quiet", cfg, timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"the state directory {state} is writable by other users" in r.stderr, r.stderr
    assert "SLUICE_STATE_DIR" in r.stderr, r.stderr
    assert not (tmp / "out.txt").exists()


def test_default_offsets_under_systemd_state_directory(sluice, tmp):
    write_lines(tmp / "in.txt", 3)
    text = file_to_file_yaml(tmp / "in.txt", tmp / "out.txt", "X").replace(
        "offset.storage.file.filename: X\n", "")
    cfg = write_yaml(tmp / "p.yaml", text)
    state = tmp / "var-lib-sluice"
    state.mkdir(mode=0o755)  # systemd's StateDirectory= default mode
    # it wins over XDG_STATE_HOME and HOME
    r = sluice.run("run", "--quiet", cfg, timeout=60, env={"STATE_DIRECTORY": str(state)})
    assert r.returncode == 0, r.stderr
    assert "copy" in json.loads((state / "offsets.json").read_text())["pipelines"]
