"""The Debian packages, for real: scripts/package builds sluice, sluice-dev and sluice-firmware
from a clean copy of the tree; lintian finds no error or warning; the unit passes
`systemd-analyze verify` and scores at most 2.0 in `systemd-analyze security`; apt installs the
.deb files into a clean Debian 12 root (mmdebstrap, debroot.py), so a missing dependency fails;
there sluice runs (version, plugins list, datagen → file as the user sluice), the files have their
owners and modes, sluice-dev builds the out-of-tree plugin, the root booted with systemd
(systemd-nspawn) runs the unit for real, an upgrade keeps the configuration and the state and a
purge removes them. Then the OCI image (tests/package/image.sh) from such a root.
Needs root and Debian's mirror; the first run makes the root tarball (about a minute, cached)."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from debroot import DebRoot
from sluicetest import REPO, scaled

# the package's version (with its epoch, 1:) and the upstream one, which sluice prints and the
# file names carry
FULL_VERSION = subprocess.run(["dpkg-parsechangelog", "-l", str(REPO / "debian" / "changelog"),
                               "-S", "Version"], capture_output=True, text=True, check=True).stdout.strip()
VERSION = FULL_VERSION.split(":", 1)[-1]
PACKAGES = ("sluice", "sluice-dev", "sluice-firmware")


def sh(*cmd, timeout=120, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=timeout, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("package")


@pytest.fixture(scope="module")
def debs(work):
    """scripts/package --nocheck (the unit tests run in their own stage): {package: Path}."""
    out = work / "deb"
    r = subprocess.run([str(REPO / "scripts" / "package"), "--out", str(out), "--nocheck", "--no-lintian"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=scaled(1800))
    assert r.returncode == 0, f"scripts/package failed ({r.returncode}):\n{r.stderr[-5000:]}"
    found = {}
    for name in PACKAGES:
        paths = list(out.glob(f"{name}_{VERSION}_*.deb"))
        assert len(paths) == 1, f"expected one {name}_{VERSION}_*.deb in {out}: {sorted(os.listdir(out))}"
        assert sh("dpkg-deb", "-f", str(paths[0]), "Version").strip() == FULL_VERSION
        found[name] = paths[0]
        print(f"{paths[0].name}: {paths[0].stat().st_size / 1024:.0f} KiB")
    return found


def contents(deb):
    """{path: (mode string, owner/group)} of a .deb's files, from dpkg-deb -c."""
    files = {}
    for ln in sh("dpkg-deb", "-c", str(deb)).splitlines():
        f = ln.split(None, 5)
        files[f[5].split(" -> ")[0].lstrip(".")] = (f[0], f[1])
    return files


def test_packages_hold_what_they_should(debs):
    sluice = contents(debs["sluice"])
    for want in ("/usr/bin/sluice", "/lib/systemd/system/sluice.service", "/usr/share/sluice/env",
                 "/usr/share/man/man1/sluice.1.gz", "/usr/share/man/man5/sluice-pipeline.5.gz",
                 "/usr/share/doc/sluice/examples/flota.yaml"):
        assert want in sluice, f"{want} is not in {debs['sluice'].name}"
    plugins = [p for p in sluice if re.fullmatch(r"/usr/lib/[^/]+/sluice/[^/]+\.so", p)]
    assert len(plugins) >= 20, f"only {len(plugins)} plugins in the package: {plugins}"
    assert sluice["/usr/bin/sluice"] == ("-rwxr-xr-x", "root/root")
    dev = contents(debs["sluice-dev"])
    for want in ("/usr/include/sluice/plugin.h", "/usr/share/doc/sluice-dev/examples/hello.c"):
        assert want in dev, f"{want} is not in {debs['sluice-dev'].name}"
    assert any(p.endswith("/pkgconfig/sluice-plugin.pc") for p in dev)
    fw = contents(debs["sluice-firmware"])
    for want in ("/usr/bin/sluice-sim", "/usr/share/sluice/firmware/ldr_seq.hex",
                 "/usr/share/sluice/firmware/ldr_seq.elf", "/usr/share/man/man1/sluice-sim.1.gz"):
        assert want in fw, f"{want} is not in {debs['sluice-firmware'].name}"
    # dependencies come from the libraries (${shlibs:Depends}), not from a hand-written list
    depends = sh("dpkg-deb", "-f", str(debs["sluice"]), "Depends")
    for lib in ("librdkafka1", "libyaml-0-2", "libcjson1", "libc6", "adduser"):
        assert lib in depends, f"{lib} missing from Depends: {depends}"


def test_lintian_clean(debs):
    changes = next(debs["sluice"].parent.glob("*.changes"))
    r = subprocess.run(["lintian", "--fail-on", "error,warning", "--info", str(changes)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=scaled(900))
    print(r.stdout)
    assert r.returncode == 0, f"lintian found errors or warnings:\n{r.stdout[-5000:]}\n{r.stderr[-2000:]}"


def test_unit_verifies_and_is_hardened(debs, work):
    x = work / "x-sluice"
    sh("dpkg-deb", "-x", str(debs["sluice"]), str(x))
    unit = x / "lib/systemd/system/sluice.service"
    text = unit.read_text()
    for want in ("User=sluice", "StateDirectory=sluice", "EnvironmentFile=-/etc/sluice/env",
                 "ExecReload=/bin/sh -c 'kill -HUP $$MAINPID'", "SupplementaryGroups=dialout",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "SystemCallFilter=@system-service"):
        assert want in text, f"{want} is not in the unit"
    # Documentation=man:... is checked against the package's own man pages
    env = dict(os.environ, MANPATH=str(x / "usr/share/man"))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify:\n{r.stdout}{r.stderr}"
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for sluice.service: ([0-9.]+) (\S+)", r.stdout)
    assert m, f"no exposure level in:\n{r.stdout[-2000:]}\n{r.stderr}"
    print(f"systemd-analyze security: {m.group(1)} {m.group(2)}")
    assert float(m.group(1)) <= 2.0 and m.group(2) == "OK", m.group(0)


@pytest.fixture(scope="module")
def root(debs, work):
    """A clean Debian 12 root with the three packages installed by apt from the .deb files."""
    r = DebRoot(work / "root")
    try:
        (r.path / "tmp/debs").mkdir()
        for deb in debs.values():
            shutil.copy(deb, r.path / "tmp/debs")
        r.apt_install(*(f"/tmp/debs/{d.name}" for d in debs.values()), timeout=scaled(900))
        yield r
    finally:
        r.close()


def test_installed_sluice_runs(root):
    out = root.run("sluice version").stdout
    assert out.startswith(f"sluice {VERSION}"), out
    names = [ln.split()[0] for ln in root.run("sluice plugins list").stdout.splitlines() if ln.strip()]
    for want in ("file", "console", "datagen-avro", "serial", "sftp-json", "mysql", "mysql-cdc",
                 "insert-field"):
        assert want in names, f"{want} missing from plugins list in the root: {names}"
    # the simulator runs the packaged firmware: one simulated second, flat out
    out = root.run("sluice-sim --seconds 1 --speed 0 /usr/share/sluice/firmware/ldr_seq.elf",
                   timeout=scaled(60)).stdout
    assert out.startswith("pty: /dev/pts/"), out
    root.run("test -s /usr/share/man/man1/sluice.1.gz && test -s /usr/share/man/man5/sluice-pipeline.5.gz")


def test_datagen_to_file_as_the_sluice_user(root):
    (root.path / "etc/sluice/demo.yaml").write_text("""version: 1
offset.storage.file.filename: ${SLUICE_STATE_DIR}/offsets.json
pipelines:
  - id: demo
    topic: orders
    source:
      plugin: datagen-avro
      config: {quickstart: orders, iterations: 500, max.interval: 0, random.seed: 7}
    sinks:
      - id: out
        plugin: file
        config: {file: /var/lib/sluice/orders.jsonl}
""")
    # as the service would: user sluice, the environment file sourced, state in /var/lib/sluice
    script = ("set -a; . /etc/sluice/env; set +a; export SLUICE_STATE_DIR=/var/lib/sluice; "
              "sluice lint /etc/sluice/*.yaml && sluice run --quiet /etc/sluice/*.yaml")
    root.run(script, user="sluice", timeout=scaled(120))
    lines = (root.path / "var/lib/sluice/orders.jsonl").read_text().splitlines()
    assert len(lines) == 500, f"{len(lines)} records in orders.jsonl, want 500"
    assert "orderid" in json.loads(lines[0]).get("payload", json.loads(lines[0])), lines[0]
    assert (root.path / "var/lib/sluice/offsets.json").is_file()


def test_owners_and_modes(root):
    def stat(path):
        return root.run(f"stat -c '%a %U %G' {path}").stdout.split()

    assert stat("/etc/sluice/env") == ["640", "root", "sluice"]
    assert stat("/var/lib/sluice") == ["750", "sluice", "sluice"]
    assert stat("/usr/bin/sluice") == ["755", "root", "root"]
    assert stat("/lib/systemd/system/sluice.service") == ["644", "root", "root"]
    user = root.run("getent passwd sluice").stdout.strip().split(":")
    assert int(user[2]) < 1000 and user[5] == "/var/lib/sluice" and user[6].endswith("nologin"), user
    root.run("getent group dialout")
    # the secrets file: the service's group reads it, other users do not
    root.run("cat /etc/sluice/env >/dev/null", user="sluice")
    r = root.run("cat /etc/sluice/env", user="nobody", check=False)
    assert r.returncode != 0, "nobody can read /etc/sluice/env"
    # enabled by the package (deb-systemd-helper; no systemd runs in the root)
    root.run("test -L /etc/systemd/system/multi-user.target.wants/sluice.service")


def test_dev_package_builds_the_out_of_tree_plugin(root):
    root.apt_install("gcc", "libc6-dev", "pkgconf", timeout=scaled(900))
    out = root.run("""set -e
        ex=/usr/share/doc/sluice-dev/examples
        mkdir -p /tmp/p && cd /tmp/p
        cc -std=c17 -Wall -Wextra -Werror -fPIC -shared $(pkg-config --cflags sluice-plugin) \\
            -Wl,-z,defs -o hello.so $ex/hello.c
        sluice plugins check ./hello.so
        # the plugin directory pkg-config names is where the packaged plugins are
        test -f "$(pkg-config --variable=plugindir sluice-plugin)/file.so"
        SLUICE_PLUGIN_PATH=/tmp/p sluice test $ex/hello_test.yaml""", timeout=scaled(120)).stdout
    assert "plugin hello " in out and "3 passed, 0 failed" in out, out


def descendants(pid):
    """Pids of a process's descendants, children first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        try:
            kids = [int(k) for t in os.listdir(f"/proc/{p}/task")
                    for k in open(f"/proc/{p}/task/{t}/children").read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def test_unit_runs_under_systemd(root):
    """The root booted with systemd (systemd-nspawn): sluice.service starts as the user sluice
    and runs the pipelines, scores at most 2.0 live, a reload (SIGHUP) reloads it in the same
    process, and a stop drains."""
    root.apt_install("systemd", "systemd-sysv", "dbus", timeout=scaled(900))
    root.run("rm -f /etc/machine-id && systemd-machine-id-setup >/dev/null")
    (root.path / "etc/sluice/endless.yaml").write_text("""version: 1
offset.storage.file.filename: ${SLUICE_STATE_DIR}/offsets.json
pipelines:
  - id: endless
    topic: endless
    source:
      plugin: datagen-avro
      config: {quickstart: orders, max.interval: 50ms, random.seed: 3}
    sinks:
      - id: out
        plugin: file
        config: {file: /var/lib/sluice/endless.jsonl}
""")
    boot = subprocess.Popen(["systemd-nspawn", "-D", str(root.path), "--boot", "--register=no",
                             "--keep-unit", "--console=pipe", "-q"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def inside(*cmd, check=True, timeout=60):
            init = next((p for p in descendants(boot.pid)
                         if open(f"/proc/{p}/comm").read().strip() == "systemd"), None)
            assert init, "no systemd in the container"
            r = subprocess.run(["nsenter", "-t", str(init), "-a", *cmd], capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=timeout)
            assert not check or r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}{r.stderr}"
            return r

        def wait(what, pred, seconds):
            deadline = time.monotonic() + scaled(seconds)
            while time.monotonic() < deadline:
                if boot.poll() is not None:
                    pytest.fail(f"systemd-nspawn ended ({boot.returncode}): {boot.stdout.read()[-3000:]}")
                try:
                    if pred():
                        return
                except (AssertionError, StopIteration, OSError):
                    pass
                time.sleep(0.5)
            pytest.fail(f"timed out waiting for {what}")

        wait("systemd to boot", lambda: inside("systemctl", "is-system-running", check=False)
             .stdout.strip() in ("running", "degraded"), 90)
        status = inside("systemctl", "is-active", "sluice", check=False).stdout.strip()
        assert status == "active", inside("systemctl", "status", "sluice", "--no-pager", check=False).stdout
        main_pid = inside("systemctl", "show", "-p", "MainPID", "--value", "sluice").stdout.strip()
        user = inside("stat", "-c", "%U", f"/proc/{main_pid}").stdout.strip()
        assert user == "sluice", f"the service runs as {user}"
        out = root.path / "var/lib/sluice/endless.jsonl"
        wait("records from the service", lambda: out.stat().st_size > 0, 30)
        m = re.search(r"Overall exposure level for sluice.service: ([0-9.]+) (\S+)",
                      inside("systemd-analyze", "security", "sluice", "--no-pager").stdout)
        assert m and float(m.group(1)) <= 2.0 and m.group(2) == "OK", m and m.group(0)
        print(f"live systemd-analyze security: {m.group(1)} {m.group(2)}")

        inside("systemctl", "reload", "sluice")
        # an in-process run reloads by stopping cleanly and running again in the same process
        try:
            # (every /etc/sluice/*.yaml runs: demo.yaml of an earlier test is there too)
            wait("the service to run again after the reload", lambda: len(re.findall(
                r"running \d+ pipelines? in-process", inside(
                    "journalctl", "-u", "sluice", "--no-pager").stdout)) >= 2, 90)
        except BaseException:
            print(inside("journalctl", "-u", "sluice", "--no-pager", check=False).stdout[-4000:])
            print(inside("systemctl", "status", "sluice", "--no-pager", check=False).stdout)
            raise
        assert inside("systemctl", "show", "-p", "MainPID", "--value", "sluice").stdout.strip() \
            == main_pid, "the reload restarted the service instead of reloading it"
        assert inside("systemctl", "is-active", "sluice", check=False).stdout.strip() == "active"
        journal = inside("journalctl", "-u", "sluice", "--no-pager").stdout
        assert "SIGHUP: reloading the configuration" in journal, journal[-3000:]
        assert "Scheduled restart job" not in journal, journal[-3000:]
        size = out.stat().st_size
        wait("records after the reload", lambda: out.stat().st_size > size, 30)
        inside("systemctl", "stop", "sluice", timeout=120)
        journal = inside("journalctl", "-u", "sluice", "--no-pager").stdout
        assert "draining and flushing sinks" in journal, journal[-3000:]
    finally:
        boot.terminate()  # nspawn shuts the container down
        try:
            boot.wait(timeout=60)
        except subprocess.TimeoutExpired:
            boot.kill()
            boot.wait(timeout=30)
    (root.path / "etc/sluice/endless.yaml").unlink()


def bump(deb, version, out):
    """A copy of deb with its version set to `version` (what an upgrade installs)."""
    tree = out / (deb.name + ".d")
    sh("dpkg-deb", "-R", str(deb), str(tree))
    control = tree / "DEBIAN" / "control"
    control.write_text(re.sub(r"(?m)^Version: .*$", f"Version: {version}", control.read_text()))
    new = out / deb.name.replace(f"_{VERSION}_", f"_{version.split(':', 1)[-1]}_")
    sh("dpkg-deb", "--root-owner-group", "-b", str(tree), str(new), timeout=300)
    shutil.rmtree(tree)
    return new


def test_upgrade_keeps_configuration_and_state_and_purge_removes_them(root, debs, work):
    version = f"{FULL_VERSION}+upgrade1"
    root.run("echo 'DEMO_SECRET=kept' >> /etc/sluice/env && "
             "echo data > /var/lib/sluice/mine && chown sluice:sluice /var/lib/sluice/mine")
    offsets = (root.path / "var/lib/sluice/offsets.json").read_bytes()
    newer = [bump(d, version, root.path / "tmp/debs") for d in debs.values()]
    root.apt_install(*(f"/tmp/debs/{d.name}" for d in newer), timeout=scaled(600))
    assert root.run("dpkg-query -W -f '${Version}' sluice").stdout == version
    assert "DEMO_SECRET=kept" in (root.path / "etc/sluice/env").read_text()
    assert root.run("stat -c '%a %U %G' /etc/sluice/env").stdout.split() == ["640", "root", "sluice"]
    assert (root.path / "var/lib/sluice/mine").read_text() == "data\n"
    assert (root.path / "var/lib/sluice/offsets.json").read_bytes() == offsets
    assert root.run("sluice version").stdout.startswith(f"sluice {VERSION}")

    root.run("apt-get purge -y -q sluice sluice-dev sluice-firmware")
    for gone in ("etc/sluice/env", "var/lib/sluice", "usr/bin/sluice", "lib/systemd/system/sluice.service",
                 "etc/systemd/system/multi-user.target.wants/sluice.service"):
        assert not (root.path / gone).exists(), f"/{gone} is still there after purge"
    # the admin's own pipeline file is the admin's: dpkg leaves it (and so /etc/sluice)
    assert (root.path / "etc/sluice/demo.yaml").is_file()


def test_oci_image(debs, work):
    """tests/package/image.sh: the image's root from mmdebstrap with the .deb files, its size,
    and, where buildah/podman can run here, the OCI image itself and sluice run inside it."""
    r = subprocess.run(["bash", str(REPO / "tests" / "package" / "image.sh"), str(work / "image"),
                        str(debs["sluice"])], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=scaled(900))
    print(r.stdout)
    assert r.returncode == 0, f"image.sh failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "image: OK" in r.stdout
