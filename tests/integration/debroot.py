"""A clean Debian 12 root for the package tests (test_package.py): made once with mmdebstrap
(variant apt: the Essential set and apt, nothing of sluice's dependencies) into a tarball cached in
${SLUICE_CACHE:-~/.cache/sluice}/package/, unpacked afresh for each test module, and entered with
chroot inside a private mount and pid namespace (unshare), so /proc, /dev and the apt cache mounted
for a command vanish with it. Downloaded .deb files are kept in the cache's archives/ and reused.
Needs root (mmdebstrap --mode=root, chroot)."""
import fcntl
import os
import shlex
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("SLUICE_CACHE", Path.home() / ".cache" / "sluice")) / "package"
SUITE = "bookworm"
MIRRORS = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
]
# Remade after a week: apt-get update inside brings the lists up to date anyway.
MAX_AGE = 7 * 24 * 3600


def base_tarball(log):
    """The cached root tarball, made (or remade when older than MAX_AGE) under a lock."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"{SUITE}-apt.tar"
    with open(CACHE / "mmdebstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.is_file() and time.time() - tarball.stat().st_mtime < MAX_AGE:
            log(f"debroot: reusing {tarball}")
            return tarball
        tmp = tarball.with_suffix(".tmp.tar")
        tmp.unlink(missing_ok=True)
        log(f"debroot: mmdebstrap --variant=apt {SUITE} -> {tarball}")
        t0 = time.monotonic()
        # in a mount namespace of its own: a failed run leaves no mount behind
        r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                            "mmdebstrap", "--variant=apt", "--mode=root", "--format=tar",
                            "--skip=cleanup/apt/lists", SUITE, str(tmp)] + MIRRORS,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
        assert r.returncode == 0, f"mmdebstrap failed ({r.returncode}):\n{r.stderr[-3000:]}"
        tmp.rename(tarball)
        log(f"debroot: mmdebstrap took {time.monotonic() - t0:.0f} s")
        return tarball


class DebRoot:
    def __init__(self, path, log=print):
        self.path = Path(path)
        self.log = log
        self.archives = CACHE / "archives"
        self.archives.mkdir(parents=True, exist_ok=True)
        (self.archives / "partial").mkdir(exist_ok=True)
        tarball = base_tarball(log)
        self.path.mkdir(parents=True)
        with tarfile.open(tarball) as t:
            t.extractall(self.path, numeric_owner=True)
        shutil.copy("/etc/resolv.conf", self.path / "etc" / "resolv.conf")
        # apt keeps what it downloaded: the cache's archives/ is mounted over it for each command
        (self.path / "etc/apt/apt.conf.d/99sluice-keep").write_text(
            'Binary::apt::APT::Keep-Downloaded-Packages "true";\nAPT::Keep-Downloaded-Packages "true";\n')

    def run(self, script, *, check=True, timeout=300, user=None):
        """Runs a shell script in the root (as root, or as `user` through runuser); returns the
        CompletedProcess. check: assert exit status 0."""
        root = shlex.quote(str(self.path))
        inner = script if user is None else f"runuser -u {shlex.quote(user)} -- sh -c {shlex.quote(script)}"
        outer = (f"set -e; mount --rbind /dev {root}/dev; "
                 f"mount --bind {shlex.quote(str(self.archives))} {root}/var/cache/apt/archives; "
                 f"exec chroot {root} /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "
                 f"HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/sh -c {shlex.quote(inner)}")
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                            f"--mount-proc={self.path}/proc", "sh", "-c", outer],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
        if check:
            assert r.returncode == 0, \
                f"in the root: {script}\nexit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return r

    def apt_install(self, *what, timeout=600):
        """apt-get install of package names or paths (inside the root) of .deb files."""
        self.run("apt-get -q update >/dev/null && apt-get install -y -q --no-install-recommends "
                 + " ".join(shlex.quote(w) for w in what), timeout=timeout)

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)
