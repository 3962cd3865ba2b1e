"""The sftp-json plugin's SFTP store (plugins/sftp-json/store_sftp.c) against a real OpenSSH sshd
(tests/services/sftp.sh), through build/tests/sftp_store_tool: the store operations, the ways of
logging in, host-key verification, permissions, and a server that goes away and comes back."""
import json
import os
import selectors
import subprocess
import time

import pytest

from sluicetest import scaled

HERE_TIMEOUT = 30


@pytest.fixture(scope="session")
def store_tool(build):
    t = build / "tests" / "sftp_store_tool"
    assert t.is_file(), f"{t} is not built (tests/meson.build)"
    return t


class Tool:
    """One store in one process: commands on stdin, one JSON answer per line."""

    def __init__(self, binary, args, env=None):
        self.proc = subprocess.Popen([str(binary), *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})}, text=True, bufsize=1)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def __call__(self, line, timeout=HERE_TIMEOUT):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.answer(timeout)

    def answer(self, timeout=HERE_TIMEOUT):
        if not self.sel.select(timeout=scaled(timeout)):
            self.proc.kill()
            raise AssertionError(f"no answer from the store within {scaled(timeout)} s")
        out = self.proc.stdout.readline()
        assert out, f"sftp_store_tool ended: {self.proc.stderr.read()}"
        return json.loads(out)

    def close(self):
        if self.proc.stdout.closed:
            return ""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=scaled(20))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


@pytest.fixture
def tools():
    made = []
    yield made
    for t in made:
        t.close()


def key_args(srv, **over):
    a = {"--host": srv.host, "--port": srv.port, "--user": srv.user, "--key": srv.key,
         "--sha256": srv.host_key_sha256, "--dir": srv.working_dir,
         "--connect-timeout-ms": 5000, "--timeout-ms": 5000}
    a.update(over)
    out = []
    for k, v in a.items():
        if v is not None:
            out += [k, v]
    return out


def open_store(store_tool, tools, args, env=None):
    t = Tool(store_tool, args, env)
    tools.append(t)
    return t


def fingerprint_of_pub(path):
    r = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)], capture_output=True,
                       text=True, timeout=30, check=True)
    return r.stdout.split()[1].removeprefix("SHA256:")


def test_operations_on_one_connection(sftp_server, store_tool, tools):
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv))
    up = srv.root / "upload"
    assert s("append t/2024/a.json.tmp {\"n\":1}\\n")["rc"] == "OK"  # directories created
    assert s("append t/2024/a.json.tmp {\"n\":2}\\n")["rc"] == "OK"
    assert s("append t/2024/a.json.tmp {\"n\":3}\\n")["rc"] == "OK"
    assert (up / "t/2024/a.json.tmp").read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    assert s("size t/2024/a.json.tmp") == {"rc": "OK", "size": 24, "msg": ""}
    assert s("size t/2024/none")["size"] == -1
    # rename over an existing file (a rewrite after a crash), into a directory not there yet
    assert s("append t/old.json stale")["rc"] == "OK"
    r = s("rename t/old.json t/h=01/final.json")
    assert r["rc"] == "OK", r
    assert s("rename t/2024/a.json.tmp t/h=01/final.json")["rc"] == "OK"
    assert (up / "t/h=01/final.json").read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    assert not (up / "t/2024/a.json.tmp").exists()
    assert s("append t/2024/b c")["rc"] == "OK"
    # characters that URLs and quote commands escape
    assert s('append sp/we"ird#%\\.tmp xyz')["rc"] == "OK"
    assert s('rename sp/we"ird#%\\.tmp sp/we"ird#%\\')["rc"] == "OK"
    r = s("list t")
    assert r["rc"] == "OK" and r["files"] == {"t/h=01/final.json": 24, "t/2024/b": 1}
    r = s("list")
    assert r["files"] == {"t/h=01/final.json": 24, "t/2024/b": 1, 'sp/we"ird#%\\': 3}
    assert s("list missing/dir") == {"files": {}, "rc": "OK", "msg": ""}
    assert s("remove t/2024/b")["rc"] == "OK"
    assert not (up / "t/2024/b").exists()
    assert s("remove t/2024/b") == {"rc": "OK", "msg": ""}  # a missing file is not an error
    # all of it over one SSH connection
    assert srv.logins() == 1


def test_paths_that_leave_the_working_dir_are_refused(sftp_server, store_tool, tools):
    """Issue #22: the SFTP store checks segments: `v1..` is a name, `..` is refused (FATAL, with
    the path in the message) by every operation, and nothing is written outside the working dir."""
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv))
    up = srv.root / "upload"
    assert s("append t/c=v1../a.json x")["rc"] == "OK"
    assert (up / "t/c=v1../a.json").read_bytes() == b"x"
    for cmd in ("append t/../../escape.json x", "append ../escape.json x",
                "size t/../../escape.json", "remove t/../x",
                "rename t/c=v1../a.json t/../../escape.json", "list t/../..",
                "append t/" + "x" * 300 + "/a.json x"):
        r = s(cmd)
        assert r["rc"] == "FATAL", (cmd, r)
        assert "refusing the path" in r["msg"], (cmd, r)
    assert not list(srv.root.glob("**/escape*"))
    assert (up / "t/c=v1../a.json").exists()


def test_fresh_files_and_the_rename_fast_path(sftp_server, store_tool, tools):
    """The round-trip savers: a file declared new (`created`) is opened truncating, without a size
    query; a rename whose directories were created before skips their mkdir, and still works when
    someone removed such a directory meanwhile; a rename retried after it succeeded (the answer
    lost) keeps the file instead of removing it."""
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv))
    up = srv.root / "upload"
    assert s("append d/x.tmp stale-bytes")["rc"] == "OK"
    assert s("created d/x.tmp")["rc"] == "OK"  # the sink's promise: rewrite it whole
    assert s("append d/x.tmp ab")["rc"] == "OK"
    assert s("append d/x.tmp cd")["rc"] == "OK"
    assert (up / "d/x.tmp").read_bytes() == b"abcd"
    assert s("rename d/x.tmp d/y=1/z=2/x")["rc"] == "OK"  # creates y=1/z=2, remembers them
    assert s("append d/w.tmp w")["rc"] == "OK"
    assert s("rename d/w.tmp d/y=1/z=2/w")["rc"] == "OK"  # known directories: no mkdir
    assert (up / "d/y=1/z=2/w").read_bytes() == b"w"
    # someone removes a remembered directory: the rename falls back to creating it
    (up / "d/y=1/z=2/x").unlink()
    (up / "d/y=1/z=2/w").unlink()
    (up / "d/y=1/z=2").rmdir()
    assert s("append d/v.tmp v")["rc"] == "OK"
    assert s("rename d/v.tmp d/y=1/z=2/v")["rc"] == "OK"
    assert (up / "d/y=1/z=2/v").read_bytes() == b"v"
    # the same rename again (as after a lost answer): the target stays, no error
    assert s("rename d/v.tmp d/y=1/z=2/v")["rc"] == "OK"
    assert (up / "d/y=1/z=2/v").read_bytes() == b"v"


def test_password_and_passphrase(sftp_server, store_tool, tools):
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv, **{"--key": None}),
                   env={"SFTP_PASSWORD": srv.password})
    assert s("append p/a hello")["rc"] == "OK"
    assert s("size p/a")["size"] == 5
    assert "Accepted password for " + srv.user in srv.log.read_text()
    s2 = open_store(store_tool, tools, key_args(srv, **{"--key": srv.key_with_passphrase}),
                    env={"SFTP_PASSPHRASE": srv.passphrase})
    assert s2("append p/a !")["rc"] == "OK"
    assert (srv.root / "upload/p/a").read_bytes() == b"hello!"


def assert_fatal(r, *words):
    assert r["rc"] == "FATAL", r
    for w in words:
        assert w in r["msg"], (w, r["msg"])


def test_wrong_password(sftp_server, store_tool, tools):
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv, **{"--key": None}),
                   env={"SFTP_PASSWORD": "not-the-password"})
    r = s("append x y")
    assert_fatal(r, f"{srv.host}:{srv.port}", f"user {srv.user}", "authentication refused",
                 "sftp.password")
    assert "not-the-password" not in r["msg"]
    assert "not-the-password" not in tools[0].close()


def test_wrong_key(sftp_server, store_tool, tools, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True,
                   timeout=30)
    s = open_store(store_tool, tools, key_args(sftp_server, **{"--key": other}))
    assert_fatal(s("size x"), "authentication refused", "sftp.private.key")
    # a wrong passphrase is refused the same way
    s2 = open_store(store_tool, tools,
                    key_args(sftp_server, **{"--key": sftp_server.key_with_passphrase}),
                    env={"SFTP_PASSPHRASE": "wrong"})
    assert_fatal(s2("size x"), "authentication refused")


def test_host_key_pin_mismatch_shows_the_fingerprint(sftp_server, store_tool, tools):
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv, **{"--sha256": "A" * 43}))
    r = s("append x y")
    assert_fatal(r, srv.host_key_sha256, f"{srv.host}:{srv.port}", "sftp.host.key.sha256")
    assert not (srv.root / "upload/x").exists()
    # the prefix ssh-keygen prints is accepted, and padding
    s2 = open_store(store_tool, tools,
                    key_args(srv, **{"--sha256": "SHA256:" + srv.host_key_sha256 + "="}))
    assert s2("size x")["rc"] == "OK"


def test_known_hosts(sftp_server, store_tool, tools, tmp_path):
    srv = sftp_server
    ok = open_store(store_tool, tools,
                    key_args(srv, **{"--sha256": None, "--known-hosts": srv.known_hosts}))
    assert ok("append k/a 1")["rc"] == "OK"

    # unknown: the file has no entry for this host and port
    unknown = tmp_path / "known_unknown"
    unknown.write_text(open(srv.known_hosts).read().replace(f"]:{srv.port} ", "]:1 "))
    s = open_store(store_tool, tools, key_args(srv, **{"--sha256": None, "--known-hosts": unknown}))
    assert_fatal(s("append k/a 2"), "unknown host key", "SHA256:" + srv.host_key_sha256,
                 str(unknown))

    # changed: the entry for this host and port holds another key
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True,
                   timeout=30)
    changed = tmp_path / "known_changed"
    changed.write_text(f"[127.0.0.1]:{srv.port} " +
                       " ".join((tmp_path / "other_host_key.pub").read_text().split()[:2]) + "\n")
    s = open_store(store_tool, tools, key_args(srv, **{"--sha256": None, "--known-hosts": changed}))
    r = s("append k/a 3")
    assert_fatal(r, "CHANGED", "SHA256:" + srv.host_key_sha256)
    assert fingerprint_of_pub(tmp_path / "other_host_key.pub") not in r["msg"]
    assert (srv.root / "upload/k/a").read_bytes() == b"1"


def test_host_key_check_config(sftp_server, store_tool):
    srv = sftp_server
    args = key_args(srv, **{"--sha256": None})
    r = subprocess.run([str(store_tool), *map(str, args)], input="", capture_output=True,
                       text=True, timeout=scaled(30))
    assert r.returncode == 2
    assert "sftp.known.hosts" in r.stderr and "sftp.host.key.sha256" in r.stderr
    assert "sftp.host.key.check" in r.stderr
    r = subprocess.run([str(store_tool), *map(str, args), "--no-host-key-check"],
                       input="append n/a 1\n", capture_output=True, text=True,
                       timeout=scaled(30))
    assert r.returncode == 0 and json.loads(r.stdout)["rc"] == "OK", r
    assert "any host key is accepted" in r.stderr


def test_directory_without_permission(sftp_server, store_tool, tools):
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv, **{"--dir": "/readonly"}))
    r = s("append sub/f.json x")
    assert_fatal(r, "/readonly/sub/f.json", f"user {srv.user}")
    assert "permission" in r["msg"].lower()
    r = s("append f.json x")  # the directory exists but is not the user's
    assert_fatal(r, "/readonly/f.json", "ermission denied")
    # and a rename into it
    s2 = open_store(store_tool, tools, key_args(srv))
    assert s2("append a x")["rc"] == "OK"
    assert_fatal(s2("rename a ../readonly/a"), "/readonly/a")
    assert (srv.root / "upload/a").exists()


def test_server_goes_away_and_comes_back(sftp_server, store_tool, tools):
    srv = sftp_server
    s = open_store(store_tool, tools, key_args(srv))
    assert s("append r/f.tmp line1\\n")["rc"] == "OK"
    srv.stop()
    t0 = time.monotonic()
    r = s("append r/f.tmp line2\\n")
    assert r["rc"] in ("NOT_CONNECTED", "RETRY"), r
    assert f"{srv.host}:{srv.port}" in r["msg"]
    r = s("size r/f.tmp")
    assert r["rc"] in ("NOT_CONNECTED", "RETRY"), r
    assert time.monotonic() - t0 < scaled(20)
    srv.start()
    # the same operation again: the store reconnects and the file has the line once
    assert s("append r/f.tmp line2\\n")["rc"] == "OK"
    assert s("rename r/f.tmp r/f")["rc"] == "OK"
    assert (srv.root / "upload/r/f").read_bytes() == b"line1\nline2\n"
    assert srv.logins() == 2


def test_nothing_listening(store_tool, tools):
    import socket
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    s = open_store(store_tool, tools, ["--host", "127.0.0.1", "--port", port, "--user", "u",
                                       "--sha256", "A" * 43, "--connect-timeout-ms", 2000],
                   env={"SFTP_PASSWORD": "x"})
    r = s("size a")
    assert r["rc"] == "NOT_CONNECTED" and f"127.0.0.1:{port}" in r["msg"], r


def test_sink_end_to_end_over_sftp(sftp_server, sluice, tmp_path, plugin_names):
    """file source → sftp-json sink → the real sshd: every line once, in final files only."""
    assert "sftp-json" in plugin_names
    srv = sftp_server
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"n": i, "text": f"line {i}"}) for i in range(300)]
    src.write_text("".join(ln + "\n" for ln in lines))
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"""version: 1
offset.storage.file.filename: {tmp_path / 'offsets.json'}
pipelines:
  - id: up
    topic: lines
    value.converter: json
    source:
      plugin: file
      config:
        file: {src}
        format: json
        follow: false
    sinks:
      - id: sftp
        plugin: sftp-json
        config:
          sftp.host: {srv.host}
          sftp.port: {srv.port}
          sftp.username: {srv.user}
          sftp.private.key: {srv.key}
          sftp.host.key.sha256: "{srv.host_key_sha256}"
          sftp.working.dir: {srv.working_dir}
          flush.size: 100
""")
    r = sluice.run("run", "--quiet", cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    files = sorted(p for p in (srv.root / "upload").rglob("*") if p.is_file()
                   and "/.sluice/" not in str(p))
    assert files, r.stderr
    assert not [p for p in files if p.name.endswith(".tmp")]
    got = [json.loads(ln) for p in files for ln in p.read_text().splitlines()]
    assert sorted(g["n"] for g in got) == list(range(300))
    assert srv.logins() == 1


@pytest.mark.parametrize("mode,dmode", [("0640", 0o750), ("0600", 0o700)])
def test_sink_file_mode_over_sftp(sftp_server, sluice, tmp_path, mode, dmode):
    """file.mode reaches the server (CURLOPT_NEW_FILE_PERMS / _DIRECTORY_PERMS): the files and
    the directories sluice makes (the data files and .sluice/'s checkpoints), stat'ed on the
    server's side (the fixture's umask is 022)."""
    srv = sftp_server
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(20)))
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"""version: 1
offset.storage.file.filename: {tmp_path / 'offsets.json'}
pipelines:
  - id: up
    topic: lines
    value.converter: json
    source:
      plugin: file
      config:
        file: {src}
        format: json
        follow: false
    sinks:
      - id: sftp
        plugin: sftp-json
        config:
          sftp.host: {srv.host}
          sftp.port: {srv.port}
          sftp.username: {srv.user}
          sftp.private.key: {srv.key}
          sftp.host.key.sha256: "{srv.host_key_sha256}"
          sftp.working.dir: {srv.working_dir}
          flush.size: 10
          file.mode: "{mode}"
""")
    r = sluice.run("run", "--quiet", cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    top = srv.root / "upload" / "topics"
    made = [p for p in top.rglob("*")]
    files = [p for p in made if p.is_file()]
    dirs = [top] + [p for p in made if p.is_dir()]
    assert len([p for p in files if p.suffix == ".json"]) == 2, made  # and the checkpoint
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(int(mode, 8))}, files
    assert {oct(p.stat().st_mode & 0o777) for p in dirs} == {oct(dmode)}, dirs
