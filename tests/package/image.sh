#!/usr/bin/env bash
# tests/package/image.sh — the OCI image of sluice, built without a registry or a Dockerfile:
#   1. mmdebstrap makes a minimal Debian 12 root (the Essential set, sluice's .deb and its
#      dependencies, ca-certificates; no documentation, man pages or locales; no apt) as a tarball,
#      where the package's maintainer scripts run as on any machine (the user sluice, its dirs),
#   2. the image keeps of that root only the files of sluice's packages and of their dependencies
#      (dpkg's file lists), without the ones only installing needs (perl, dpkg, adduser, PAM, ...),
#      plus /bin/sh (dash), the users, CA certificates and sluice's directories,
#   3. buildah puts that into an image from scratch (user sluice, entrypoint sluice,
#      /etc/sluice and /var/lib/sluice) and writes it as an OCI archive,
#   4. runs sluice inside it: `buildah run` (chroot isolation) `sluice version`, `plugins list` and
#      a datagen → file pipeline as the user sluice; then tries `podman run`, which needs an OCI
#      runtime (crun) that may not work where this runs (a missing podman run is reported, not a
#      failure: docs/operations.md says why it does not run on the project's VM),
#   5. prints the roots' and the image's sizes (the goal: at most 60 MB; fails above it).
# Images and containers live in a private vfs store under WORKDIR, removed at the end.
#
# usage: tests/package/image.sh WORKDIR SLUICE_DEB [OUT.oci.tar]
# Downloaded .deb files are kept in ${SLUICE_CACHE:-~/.cache/sluice}/package/archives. KEEP_ROOTFS=1
# keeps WORKDIR/rootfs.tar (the mmdebstrap root) for a look.
set -euo pipefail

if [ $# -lt 2 ]; then sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2; fi
work=$1 deb=$(realpath "$2") oci=${3:-$1/sluice-oci.tar}
mkdir -p "$work"
work=$(realpath "$work")
cache=${SLUICE_CACHE:-$HOME/.cache/sluice}/package/archives
mkdir -p "$cache"
step() { echo "image: $*"; }
fail() { echo "image: FAIL: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

store=(--storage-driver vfs --root "$work/store" --runroot "$work/run")
ctr=
cleanup() {
    if [ -n "$ctr" ]; then timeout 120 buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
    timeout 120 buildah "${store[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$work/store" "$work/run" "$work/repo" "$work/full" "$work/slim" "$work/slim.tar"
    [ -n "${KEEP_ROOTFS:-}" ] || rm -f "$work/rootfs.tar"
}
trap cleanup EXIT

step "mmdebstrap: the image's root with $(basename "$deb")"
# The .deb goes in through a one-package local repository (a file:// mirror, which mmdebstrap's
# file-mirror-automount hook mounts into the root), so apt resolves its dependencies from Debian's
# mirror as for any package. The other hooks reuse and refill the download cache; path-exclude
# drops what a container never reads.
rm -rf "$work/repo"
mkdir -p "$work/repo"
cp "$deb" "$work/repo/"
(cd "$work/repo" && dpkg-scanpackages --multiversion . >Packages 2>/dev/null) || fail "dpkg-scanpackages"
# In a mount namespace of its own, with its temporary root under WORKDIR: a failed run can leave
# neither a mount (the local repository's bind mount) nor a root in /tmp behind.
TMPDIR="$work" timeout 900 unshare --mount --propagation private \
    mmdebstrap --variant=essential --mode=root --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    --include="ca-certificates,sluice" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/lib/*/gconv/*' \
    --skip=download/empty \
    --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"; find '$cache' -maxdepth 1 -name '*.deb' -exec cp -t \"\$1/var/cache/apt/archives\" {} +" \
    --customize-hook="find \"\$1/var/cache/apt/archives\" -maxdepth 1 -name '*.deb' ! -name 'sluice_*' -exec cp -nt '$cache' {} +" \
    --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/var/log/*.log' \
    bookworm "$work/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" \
    "deb [trusted=yes] file://$work/repo ./" \
    >"$work/mmdebstrap.log" 2>&1 || { tail -40 "$work/mmdebstrap.log" >&2; fail "mmdebstrap"; }
root_bytes=$(tar -tvf "$work/rootfs.tar" | awk '{ s += $3 } END { print s }')
step "root: $(mib "$root_bytes") in files ($(mib "$(stat -c %s "$work/rootfs.tar")") as a tarball)"
tar -tf "$work/rootfs.tar" >"$work/rootfs.list"
grep -qx './usr/bin/sluice' "$work/rootfs.list" || fail "no /usr/bin/sluice in the root"

step "slimming: only sluice, what it links and loads, and the files it reads"
# The root above holds Debian's Essential set, which installing needs (dpkg, the maintainer
# scripts, adduser's perl) and running does not. The image gets the files of sluice's packages and
# of their dependencies, transitively, from dpkg's own lists, without the packages that only serve
# installing (INSTALL_ONLY); plus dash for /bin/sh, the users, CA certificates and sluice's
# directories. Files keep their owners and modes.
rm -rf "$work/full" "$work/slim"
mkdir -p "$work/full" "$work/slim"
tar -C "$work/full" --numeric-owner -xf "$work/rootfs.tar"
INSTALL_ONLY="adduser debconf perl-base passwd openssl dpkg init-system-helpers libpam0g libpam-modules libpam-modules-bin libpam-runtime libaudit1 libaudit-common libsemanage2 libsemanage-common libsepol2 libcap-ng0 libdb5.3 libdebconfclient0"
python3 - "$work/full" "$INSTALL_ONLY" >"$work/slim.list" <<'PY'
import os, re, sys
root, skip = sys.argv[1], set(sys.argv[2].split())
status, pkg = {}, None
for para in open(f"{root}/var/lib/dpkg/status").read().split("\n\n"):
    f = dict(re.findall(r"(?m)^([A-Za-z-]+): ?(.*)$", para))
    if f.get("Status", "").endswith(" installed"):
        status[f["Package"]] = f
want, todo = set(), ["sluice", "dash", "ca-certificates", "base-files", "libc6", "netbase"]
while todo:
    p = todo.pop()
    if p in want or p in skip or p not in status:
        continue
    want.add(p)
    for field in ("Pre-Depends", "Depends"):
        for alt in status[p].get(field, "").split(","):
            names = [a.strip().split()[0].split(":")[0] for a in alt.split("|") if a.strip()]
            todo += [n for n in names if n in status][:1]
for p in sorted(want):
    arch = status[p].get("Architecture")
    for name in (f"{p}:{arch}.list", f"{p}.list"):
        path = f"{root}/var/lib/dpkg/info/{name}"
        if os.path.exists(path):
            for ln in open(path):
                ln = ln.strip()
                if ln and ln != "/." and not os.path.isdir(root + ln):
                    print("." + ln)
            break
print("packages: " + " ".join(sorted(want)), file=sys.stderr)
PY
for d in bin sbin lib lib64; do   # merged /usr: the same symlinks, and their targets
    if [ -L "$work/full/$d" ]; then
        cp -P "$work/full/$d" "$work/slim/$d"
        mkdir -p "$work/slim/$(readlink "$work/full/$d")"
    fi
done
{ grep -v '^$' "$work/slim.list"
  printf '%s\n' ./etc/passwd ./etc/group ./etc/shadow ./etc/gshadow ./etc/nsswitch.conf ./etc/ld.so.cache ./bin/sh
  (cd "$work/full" && find ./etc/ssl/certs ./etc/alternatives -mindepth 1 2>/dev/null)
} | sort -u | while IFS= read -r f; do [ -e "$work/full/$f" ] || [ -L "$work/full/$f" ] && printf '%s\n' "$f"; done \
    | tar -C "$work/full" --numeric-owner --no-recursion -T - -cf - \
    | tar -C "$work/slim" --numeric-owner --keep-directory-symlink -xf -
for d in etc/sluice var/lib/sluice tmp; do
    (cd "$work/full" && tar --numeric-owner --no-recursion -cf - "./$d") | tar -C "$work/slim" --numeric-owner -xf -
done
[ -x "$work/slim/usr/bin/sluice" ] || fail "no sluice in the slimmed root"
(cd "$work/slim" && tar --numeric-owner -cf "$work/slim.tar" .)
slim_bytes=$(du -sb --apparent-size "$work/slim" | cut -f1)
step "slim root: $(mib "$slim_bytes") in files"
rm -rf "$work/full" "$work/slim"

step "buildah: an image from scratch with that root"
ctr=$(timeout 120 buildah "${store[@]}" from scratch)
timeout 300 buildah "${store[@]}" add "$ctr" "$work/slim.tar" / >/dev/null
timeout 60 buildah "${store[@]}" config \
    --user sluice --workingdir /var/lib/sluice \
    --env SLUICE_STATE_DIR=/var/lib/sluice --env SLUICE_OUT_DIR=/var/lib/sluice/files \
    --entrypoint '["/usr/bin/sluice"]' --cmd '["run", "/etc/sluice/sluice.yaml"]' \
    --volume /var/lib/sluice \
    --label org.opencontainers.image.title=sluice \
    --label "org.opencontainers.image.version=$(dpkg-deb -f "$deb" Version)" "$ctr"
rm -f "$oci"
timeout 600 buildah "${store[@]}" commit --format oci "$ctr" sluice:test >/dev/null
timeout 600 buildah "${store[@]}" push sluice:test "oci-archive:$oci:sluice:test" >/dev/null 2>&1 ||
    fail "buildah push to $oci"
image_size=$(buildah "${store[@]}" images --format '{{.Size}}' localhost/sluice:test 2>/dev/null || echo '?')
step "image sluice:test: $image_size uncompressed (buildah images), $(mib "$(stat -c %s "$oci")") as an OCI archive ($oci)"

in_image() { timeout 120 buildah "${store[@]}" run --isolation chroot --user "$1" "$ctr" -- "${@:2}"; }
step "buildah run: sluice version"
out=$(in_image sluice sluice version) || fail "sluice version in the image: $out"
echo "$out"
case $out in "sluice "*) ;; *) fail "unexpected version line: $out" ;; esac
step "buildah run: sluice plugins list"
n=$(in_image sluice sluice plugins list | grep -c .) || fail "plugins list in the image"
[ "$n" -ge 20 ] || fail "only $n plugins in the image"
step "buildah run: datagen → file as the user sluice"
in_image root sh -c 'while IFS= read -r l; do printf "%s\n" "$l"; done > /etc/sluice/sluice.yaml' <<'YAML'
version: 1
offset.storage.file.filename: ${SLUICE_STATE_DIR}/offsets.json
pipelines:
  - id: demo
    topic: orders
    source:
      plugin: datagen-avro
      config: {quickstart: orders, iterations: 200, max.interval: 0, random.seed: 1}
    sinks:
      - id: out
        plugin: file
        config: {file: /var/lib/sluice/orders.jsonl}
YAML
in_image sluice sluice run --quiet /etc/sluice/sluice.yaml || fail "the pipeline failed in the image"
lines=$(in_image sluice sh -c 'n=0; while IFS= read -r l; do n=$((n + 1)); done </var/lib/sluice/orders.jsonl; echo $n')
[ "$lines" -eq 200 ] || fail "$lines records written in the image, want 200"

step "buildah run: the CA store for TLS (Confluent Cloud) is there"
in_image sluice sh -c 'test -s /etc/ssl/certs/ca-certificates.crt' || fail "no CA certificates in the image"

step "podman run (needs a working OCI runtime here)"
if out=$(timeout 120 podman "${store[@]}" run --rm --network none "oci-archive:$oci" version 2>&1); then
    echo "$out"
    step "podman run: ok"
else
    echo "$out" | tail -3
    step "podman run: not possible on this machine (see docs/operations.md); buildah run above ran sluice"
fi
step "sizes: mmdebstrap root $(mib "$root_bytes"), image root $(mib "$slim_bytes") in files, image $image_size (buildah images), OCI archive (gzip) $(mib "$(stat -c %s "$oci")")"
[ "$slim_bytes" -le 60000000 ] || fail "the image's root is $(mib "$slim_bytes"), above the 60 MB goal"
step "OK"
