#!/usr/bin/env bash
# A throwaway OpenSSH sshd with internal-sftp for sluice's sftp-json tests: loopback only, a free port,
# its own host key, a chrooted test user. Recipe: ../shared/reference/test-services.md §5.
#
#   sftp.sh start DIR   keys and sshd_config in DIR (first start), then /usr/sbin/sshd -D -e in the
#                       background (log DIR/sshd.log, pid DIR/sshd.pid); waits until the port accepts;
#                       writes the facts to DIR/sftp.env and prints them (KEY=value lines).
#                       A second start after stop reuses DIR: same port, same host key, same files.
#   sftp.sh stop DIR    SIGTERM to sshd and to every session process it forked (so clients see
#                       their connection drop, as when a server goes away), SIGKILL after 10 s;
#                       idempotent. Does not remove the chroot (a later start serves the same files).
#   sftp.sh clean DIR   stop, then remove DIR's chroot under /srv.
#
# DIR/sftp.env:
#   SFTP_HOST=127.0.0.1  SFTP_PORT=<port>  SFTP_USER=sluicesftp  SFTP_KEY=DIR/keys/id_ed25519
#   SFTP_KEY_PASSPHRASE_FILE=DIR/keys/id_ed25519_pp (an ed25519 key with passphrase, its passphrase
#     in SFTP_KEY_PASSPHRASE)  SFTP_PASSWORD=<the user's password>
#   SFTP_HOST_KEY_SHA256=<base64, as ssh-keygen -l prints it after "SHA256:">
#   SFTP_KNOWN_HOSTS=DIR/known_hosts ([127.0.0.1]:<port> and the host key)
#   SFTP_ROOT=/srv/sluice-sftp-<id> (the chroot; the server's "/")  SFTP_WORKING_DIR=/upload
#   (writable by the user, and the session's start directory; everything else in the chroot is
#   root's, e.g. /readonly, for permission tests)
#
# The user: one system account (sluicesftp: no home, nologin shell, not locked) shared by every
# server on the machine; it logs in with DIR's key or with its password. The password is made once
# per machine, random, kept in /var/lib/sluice-sftp/password (root only), so concurrent servers
# agree on it; PasswordAuthentication is on for this user only (Match block).
# Needs root (chroot, useradd, chpasswd) and openssh-server (scripts/lib/deps.sh, group test).
# Environment: SLUICE_SFTP_START_TIMEOUT (seconds, default 20).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START_TIMEOUT=${SLUICE_SFTP_START_TIMEOUT:-20}
SSHD=/usr/sbin/sshd
USER_NAME=sluicesftp
STATE=/var/lib/sluice-sftp

SVC_NAME=sftp.sh
# shellcheck source=tests/services/lib.sh
. "$HERE/lib.sh"

port_open() {
    timeout 5 python3 -c '
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1"
}

# the chroot of DIR: root-owned, outside /tmp (sshd refuses a chroot path with a writable component)
chroot_of() { echo "/srv/sluice-sftp-$(printf '%s' "$1" | sha256sum | cut -c1-12)"; }
# where sshd finds the user's authorized keys: sshd reads them as the user, so every directory
# above them must be traversable by it — DIR may lie under a 0700 temporary directory (scripts/test's)
keys_of() { echo "$(chroot_of "$1")-keys"; }

sshd_pid() { svc_pid "$1/sshd.pid" "$1/sshd_config"; }

# the pids of every descendant of $1 (sshd's per-connection processes)
descendants() {
    local p
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$p"
        descendants "$p"
    done
}

ensure_user() {
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    exec 9>"$STATE/.lock"
    timeout 60 flock 9 || die "timed out waiting for $STATE/.lock"
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        useradd --system --no-create-home -d /nonexistent -s /usr/sbin/nologin "$USER_NAME" \
            || die "useradd $USER_NAME failed"
    fi
    if [[ ! -s $STATE/password ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/password.tmp")
        mv "$STATE/password.tmp" "$STATE/password"
    fi
    # a password (not '!' which, with UsePAM no, means "account is locked" even for key logins)
    if [[ $(getent shadow "$USER_NAME" | cut -d: -f2) == '!'* ]] || [[ ${SFTP_SET_PW:-1} == 1 ]]; then
        printf '%s:%s\n' "$USER_NAME" "$(cat "$STATE/password")" | chpasswd \
            || die "chpasswd for $USER_NAME failed"
    fi
    exec 9>&-
}

start() {
    local dir pid port root deadline started fp
    dir=$(need_dir "${1:-}")
    [[ $(id -u) -eq 0 ]] || die "needs root (chroot, useradd); run as root"
    [[ -x $SSHD ]] || die "$SSHD not found (apt-get install openssh-server; scripts/lib/deps.sh does)"
    root=$(chroot_of "$dir")

    if pid=$(sshd_pid "$dir"); then
        log "already running (pid $pid)"
        cat "$dir/sftp.env"
        return 0
    fi

    ensure_user
    mkdir -p /run/sshd
    chmod 755 /run/sshd
    mkdir -p "$root/upload" "$root/readonly"
    chown root:root "$root" "$root/readonly"
    chmod 755 "$root" "$root/readonly"
    chown "$USER_NAME" "$root/upload"
    chmod 755 "$root/upload"

    if [[ -f $dir/sshd_config ]]; then
        port=$(sed -n 's/^Port //p' "$dir/sshd_config")
        [[ -n $port ]] || die "cannot read the port from $dir/sshd_config"
    else
        port=$(free_ports 1) || die "could not pick a free port (python3)"
        mkdir -p "$dir/keys"
        chmod 700 "$dir/keys"
        ssh-keygen -q -t ed25519 -N '' -C sluice-sftp-host -f "$dir/ssh_host_ed25519_key"
        ssh-keygen -q -t ed25519 -N '' -C sluice-sftp-user -f "$dir/keys/id_ed25519"
        ssh-keygen -q -t ed25519 -N 'sluice sluiceCANARY pass phrase' -C sluice-sftp-user-pp \
            -f "$dir/keys/id_ed25519_pp"
        # sshd reads the authorized keys as the user: they live in a root-owned 755 directory
        # under /srv (see keys_of), not in DIR, whose parents the user may not traverse
        mkdir -p "$(keys_of "$dir")"
        chmod 755 "$(keys_of "$dir")"
        cat "$dir/keys/id_ed25519.pub" "$dir/keys/id_ed25519_pp.pub" \
            >"$(keys_of "$dir")/authorized_keys_$USER_NAME"
        chmod 644 "$(keys_of "$dir")/authorized_keys_$USER_NAME"
        printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" \
            >"$dir/known_hosts"
        cat >"$dir/sshd_config" <<EOF
# written by tests/services/sftp.sh: loopback only, internal-sftp (umask 022, a common one, whatever
# the caller's), one chrooted user
Port $port
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $(keys_of "$dir")/authorized_keys_%u
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $USER_NAME
MaxStartups 100
MaxSessions 100
LoginGraceTime 20
LogLevel INFO
Subsystem sftp internal-sftp
Match User $USER_NAME
    PasswordAuthentication yes
    ChrootDirectory $root
    ForceCommand internal-sftp -u 022 -d /upload
    AllowTcpForwarding no
    X11Forwarding no
EOF
    fi
    "$SSHD" -t -f "$dir/sshd_config" 2>"$dir/sshd-t.log" \
        || { cat "$dir/sshd-t.log" >&2; die "sshd -t rejects $dir/sshd_config"; }

    rm -f "$dir/sshd.pid"
    # sshd -D writes its own pid file; the wrapper's pid is the same process (exec)
    bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/sshd.pid" \
        "$SSHD" -D -e -f "$dir/sshd_config" </dev/null >>"$dir/sshd.log" 2>&1 &
    started=$!

    fail() {
        log "error: $*"
        log "---- last lines of $dir/sshd.log"
        tail -n 20 "$dir/sshd.log" >&2 || true
        kill -TERM "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
        rm -f "$dir/sshd.pid"
        exit 1
    }
    trap 'fail "interrupted"' INT TERM HUP
    deadline=$((SECONDS + START_TIMEOUT))
    until port_open "$port"; do
        kill -0 "$started" 2>/dev/null || fail "sshd exited during start-up"
        ((SECONDS < deadline)) || fail "port $port not open after ${START_TIMEOUT}s"
        sleep 0.1
    done
    trap - INT TERM HUP

    fp=$(ssh-keygen -l -E sha256 -f "$dir/ssh_host_ed25519_key.pub" | awk '{print $2}')
    cat >"$dir/sftp.env" <<EOF
SFTP_HOST=127.0.0.1
SFTP_PORT=$port
SFTP_USER=$USER_NAME
SFTP_PASSWORD=$(cat "$STATE/password")
SFTP_KEY=$dir/keys/id_ed25519
SFTP_KEY_PASSPHRASE_FILE=$dir/keys/id_ed25519_pp
SFTP_KEY_PASSPHRASE=sluice sluiceCANARY pass phrase
SFTP_HOST_KEY_SHA256=${fp#SHA256:}
SFTP_KNOWN_HOSTS=$dir/known_hosts
SFTP_ROOT=$root
SFTP_WORKING_DIR=/upload
SFTP_LOG=$dir/sshd.log
EOF
    chmod 600 "$dir/sftp.env"
    cat "$dir/sftp.env"
}

stop() {
    local dir pid pids p
    dir=$(need_dir "${1:-}")
    if pid=$(sshd_pid "$dir"); then
        # the listener and its per-connection processes (their ids, found from the listener's)
        pids="$pid $(descendants "$pid" | tr '\n' ' ')"
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 1 100); do
            local alive=0
            for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
            ((alive)) || break
            sleep 0.1
        done
        for p in $pids; do
            if kill -0 "$p" 2>/dev/null; then
                log "process $p still alive after 10 s: SIGKILL"
                kill -KILL "$p" 2>/dev/null || true
            fi
        done
    fi
    rm -f "$dir/sshd.pid"
}

clean() {
    local dir root
    dir=$(need_dir "${1:-}")
    stop "$dir"
    root=$(chroot_of "$dir")
    [[ $root == /srv/sluice-sftp-* ]] && rm -rf "$root" "$(keys_of "$dir")"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
    start) start "$@" ;;
    stop) stop "$@" ;;
    clean) clean "$@" ;;
    *) usage ;;
esac
