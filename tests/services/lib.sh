# tests/services/lib.sh — what every service script shares: messages, the service directory, free
# loopback ports, finding and stopping the service's own process. Sourced by kafka.sh and
# registry.sh after they set SVC_NAME (the script's name for messages).

log() { printf '%s: %s\n' "$SVC_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# The comment block at the top of the calling script.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

need_dir() {
    [[ -n ${1:-} ]] || usage
    [[ -d $1 ]] || die "no such directory: $1"
    cd "$1" && pwd
}

# svc_pid PIDFILE MARKER: the pid in PIDFILE if that process is alive and its command line contains
# MARKER (so a recycled pid is never taken for the service).
svc_pid() {
    local pidfile=$1 marker=$2 pid
    [[ -f $pidfile ]] || return 1
    pid=$(cat "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
    echo "$pid"
}

# free_ports N: N distinct free loopback ports.
free_ports() {
    timeout 10 python3 - "$1" <<'PY'
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))
PY
}

# svc_stop PIDFILE MARKER: SIGTERM, up to 30 s, then SIGKILL; removes PIDFILE; idempotent.
svc_stop() {
    local pidfile=$1 marker=$2 pid
    if ! pid=$(svc_pid "$pidfile" "$marker"); then
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$SVC_NAME process $pid still alive after 30 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}
