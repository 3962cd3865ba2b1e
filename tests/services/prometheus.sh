#!/usr/bin/env bash
# A throwaway Prometheus server (Debian's `prometheus` package) that scrapes one target, for the
# tests of `sluice run`'s /metrics: loopback only, a free port, its data in a directory of the
# caller's.
#
#   prometheus.sh start DIR TARGET [INTERVAL]
#                       TARGET: host:port serving /metrics; INTERVAL: the scrape and evaluation
#                       interval (default 1s). Writes DIR/prometheus.yml, then runs prometheus in
#                       the background (log DIR/prometheus.log, pid DIR/prometheus.pid, data
#                       DIR/data); waits until /-/ready answers; writes the facts to
#                       DIR/prometheus.env and prints them (KEY=value lines).
#   prometheus.sh stop DIR
#                       SIGTERM, up to 30 s, then SIGKILL; idempotent.
#   prometheus.sh check-metrics FILE
#                       promtool check metrics (the exposition format and Prometheus's naming
#                       conventions) on FILE, or on stdin when FILE is -.
#
# DIR/prometheus.env:
#   PROMETHEUS_URL=http://127.0.0.1:<port>  PROMETHEUS_PORT=<port>  PROMETHEUS_LOG=DIR/prometheus.log
# Environment: SLUICE_PROMETHEUS_START_TIMEOUT (seconds, default 60), PROMETHEUS (the binary,
# default /usr/bin/prometheus), PROMTOOL (default /usr/bin/promtool).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START_TIMEOUT=${SLUICE_PROMETHEUS_START_TIMEOUT:-60}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}

SVC_NAME=prometheus.sh
# shellcheck source=tests/services/lib.sh
. "$HERE/lib.sh"

ready() {
    timeout 5 python3 -c '
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/-/ready", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except OSError:
    sys.exit(1)' "$1"
}

start() {
    local dir target interval port started deadline
    dir=$(need_dir "${1:-}")
    target=${2:-}
    interval=${3:-1s}
    [[ -n $target ]] || usage
    [[ -x $PROMETHEUS ]] || die "$PROMETHEUS not found (Debian: apt-get install prometheus)"
    if svc_pid "$dir/prometheus.pid" "$dir/prometheus.yml" >/dev/null; then
        die "a prometheus already runs for $dir"
    fi
    port=$(free_ports 1) || die "could not pick a free port (python3)"
    cat >"$dir/prometheus.yml" <<EOF
# written by tests/services/prometheus.sh: one target, scraped every $interval
global:
  scrape_interval: $interval
  evaluation_interval: $interval
  scrape_timeout: $interval
scrape_configs:
  - job_name: sluice
    metrics_path: /metrics
    static_configs:
      - targets: ['$target']
EOF
    "$PROMTOOL" check config "$dir/prometheus.yml" >"$dir/promtool-config.log" 2>&1 \
        || { cat "$dir/promtool-config.log" >&2; die "promtool rejects $dir/prometheus.yml"; }
    mkdir -p "$dir/data"
    rm -f "$dir/prometheus.pid"
    # the wrapper's pid is prometheus's (exec); its command line names DIR's config (svc_pid)
    bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/prometheus.pid" \
        "$PROMETHEUS" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1h \
        --log.level=warn </dev/null >>"$dir/prometheus.log" 2>&1 &
    started=$!

    fail() {
        log "error: $*"
        log "---- last lines of $dir/prometheus.log"
        tail -n 20 "$dir/prometheus.log" >&2 || true
        kill -TERM "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
        rm -f "$dir/prometheus.pid"
        exit 1
    }
    trap 'fail "interrupted"' INT TERM HUP
    deadline=$((SECONDS + START_TIMEOUT))
    until ready "$port"; do
        kill -0 "$started" 2>/dev/null || fail "prometheus exited during start-up"
        ((SECONDS < deadline)) || fail "not ready on port $port after ${START_TIMEOUT}s"
        sleep 0.2
    done
    trap - INT TERM HUP
    cat >"$dir/prometheus.env" <<EOF
PROMETHEUS_URL=http://127.0.0.1:$port
PROMETHEUS_PORT=$port
PROMETHEUS_LOG=$dir/prometheus.log
EOF
    cat "$dir/prometheus.env"
}

stop() {
    local dir
    dir=$(need_dir "${1:-}")
    svc_stop "$dir/prometheus.pid" "$dir/prometheus.yml"
}

check_metrics() {
    [[ -n ${1:-} ]] || usage
    [[ -x $PROMTOOL ]] || die "$PROMTOOL not found (Debian: apt-get install prometheus)"
    if [[ $1 == - ]]; then
        timeout 60 "$PROMTOOL" check metrics
    else
        timeout 60 "$PROMTOOL" check metrics <"$1"
    fi
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
    start) start "$@" ;;
    stop) stop "$@" ;;
    check-metrics) check_metrics "$@" ;;
    *) usage ;;
esac
