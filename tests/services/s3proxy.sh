#!/usr/bin/env bash
# A real S3-compatible server for the s3 sink's tests and benchmark: s3proxy (Apache-2.0, Maven Central
# org.gaul:s3proxy, its jar-with-dependencies) with the jclouds filesystem backend, path-style only,
# AWS signatures V2 and V4 checked against one fixed test identity. Why this server: README.md here.
#
#   s3proxy.sh fetch        the jar into $SLUICE_CACHE/s3proxy-<version>/ (once per machine), through
#                           Maven with strict checksums, then its SHA-1 checked again (pinned for the
#                           default version)
#   s3proxy.sh start DIR    writes DIR/s3proxy.conf (first start: a free loopback port, the objects in
#                           DIR/data), starts s3proxy (log DIR/s3proxy.log, pid DIR/s3proxy.pid), waits
#                           until a signed ListBuckets answers 200; writes the facts to DIR/s3proxy.env
#                           and prints them (KEY=value lines). A second start after stop reuses DIR:
#                           the same port, the same buckets and objects.
#   s3proxy.sh stop DIR     SIGTERM, up to 30 s, then SIGKILL; idempotent. The data stays in DIR/data.
#   s3proxy.sh kill DIR     SIGKILL (a crashed server); `start` serves DIR/data again.
#
# DIR/s3proxy.env:
#   S3_ENDPOINT=http://127.0.0.1:<port>  S3_PORT=<port>  S3_REGION=us-east-1
#   S3_ACCESS_KEY_ID=sluice-test-key  S3_SECRET_ACCESS_KEY=<holds sluiceCANARY: the suite checks that
#   it never shows in sluice's output>  S3_DATA=DIR/data (bucket = directory, key = path below it)
#   S3_LOG=DIR/s3proxy.log  S3PROXY_VERSION=<version>
# Environment: SLUICE_CACHE (default ~/.cache/sluice), SLUICE_S3PROXY_VERSION (default 4.1.0),
# SLUICE_S3PROXY_JVM (default "-Xms64m -Xmx512m -XX:+UseSerialGC"), SLUICE_S3PROXY_START_TIMEOUT
# (seconds, default 60), SLUICE_S3PROXY_LOG_LEVEL (default info), JAVA (default java; s3proxy 4.x
# needs Java >= 17, Debian 12's default).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=${SLUICE_S3PROXY_VERSION:-4.1.0}
# SHA-1 of the default version's jar-with-dependencies (its .sha1 on Maven Central)
PINNED_SHA1=0a0b89e982bc1b1b5757d45b61109e05a840dd87
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
APP_DIR=$CACHE/s3proxy-$VERSION
JAR=$APP_DIR/s3proxy-$VERSION-jar-with-dependencies.jar
ARTIFACT=org.gaul:s3proxy:$VERSION:jar:jar-with-dependencies
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
M2_REPO=${SLUICE_M2_REPO:-$HOME/.m2/repository}
JAVA=${JAVA:-java}
MIN_JAVA=17
JVM=${SLUICE_S3PROXY_JVM:-"-Xms64m -Xmx512m -XX:+UseSerialGC"}
START_TIMEOUT=${SLUICE_S3PROXY_START_TIMEOUT:-60}
LOG_LEVEL=${SLUICE_S3PROXY_LOG_LEVEL:-info}
# the one identity the server accepts (a test identity, not an AWS one)
ACCESS_KEY=sluice-test-key
SECRET_KEY=s3-sluiceCANARY-secret
REGION=us-east-1

SVC_NAME=s3proxy.sh
# shellcheck source=tests/services/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------- fetch
fetch() {
    local stamp=$APP_DIR/.sluice-complete work got want remote
    if [[ -f $stamp && "$(cat "$stamp")" == "$ARTIFACT" && -f $JAR ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$APP_DIR"
    # one fetch at a time per cache directory
    exec 9>"$APP_DIR/.lock"
    timeout 900 flock 9 || die "timed out waiting for another fetch ($APP_DIR/.lock)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$ARTIFACT" && -f $JAR ]]; then
        exec 9>&-; return 0
    fi
    log "fetching $ARTIFACT from Maven Central (~55 MB) into $APP_DIR"
    work=$(mktemp -d "$APP_DIR/fetch.XXXXXX")
    # cwd outside the repository (dependency:copy needs no project); -C: a checksum mismatch fails
    if ! (cd "$work" && timeout 900 mvn -q -B -C -Dstyle.color=never "$DEP_PLUGIN:copy" \
            -Dartifact="$ARTIFACT" -DoutputDirectory="$work" -Dmdep.overWriteReleases=true \
            >"$work/mvn.log" 2>&1); then
        tail -n 40 "$work/mvn.log" >&2 || true
        rm -rf "$work"; exec 9>&-
        die "mvn dependency:copy of $ARTIFACT failed"
    fi
    got=$work/$(basename "$JAR")
    [[ -f $got ]] || { rm -rf "$work"; exec 9>&-; die "mvn did not produce $got"; }
    # the jar's SHA-1 against the .sha1 Maven fetched beside it, and against the pinned one
    want=$(sha1sum "$got" | cut -d' ' -f1)
    remote="$M2_REPO/org/gaul/s3proxy/$VERSION/$(basename "$JAR").sha1"
    if [[ -f $remote && "$(cut -c1-40 "$remote")" != "$want" ]]; then
        rm -rf "$work"; exec 9>&-
        die "SHA-1 of $ARTIFACT is $want, Maven Central's .sha1 says $(cut -c1-40 "$remote")"
    fi
    if [[ $VERSION == 4.1.0 && $want != "$PINNED_SHA1" ]]; then
        rm -rf "$work"; exec 9>&-
        die "SHA-1 of $ARTIFACT is $want, not the pinned $PINNED_SHA1"
    fi
    mv "$got" "$JAR"
    rm -rf "$work"
    printf '%s\n' "$ARTIFACT" >"$stamp"
    exec 9>&-
    log "fetched s3proxy $VERSION ($(du -h "$JAR" | cut -f1), SHA-1 $want)"
}

# ---------------------------------------------------------------- helpers
java_major() {  # java_major BIN: the feature version (17, 21, 25, ...) or nothing
    timeout 20 "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

# pid from DIR/s3proxy.pid if that process is alive and really is DIR's server
server_pid() { svc_pid "$1/s3proxy.pid" "--properties $1/s3proxy.conf"; }

# status PORT: the HTTP status of a SigV4-signed ListBuckets (000 when nothing answers)
signed_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --aws-sigv4 "aws:amz:$REGION:s3" \
        -u "$ACCESS_KEY:$SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        "http://127.0.0.1:$1/" || true
}

# ---------------------------------------------------------------- start
start() {
    local dir pid port major started deadline
    dir=$(need_dir "${1:-}")
    fetch
    command -v curl >/dev/null || die "curl not found (scripts/lib/deps.sh, group test)"
    major=$(java_major "$JAVA") || true
    [[ -n $major ]] || die "$JAVA does not run (s3proxy $VERSION needs Java $MIN_JAVA+; set JAVA)"
    ((major >= MIN_JAVA)) || die "$JAVA is Java $major; s3proxy $VERSION needs Java $MIN_JAVA+"

    if pid=$(server_pid "$dir"); then
        log "already running (pid $pid)"
        cat "$dir/s3proxy.env"
        return 0
    fi

    if [[ -f $dir/s3proxy.conf ]]; then
        port=$(sed -n 's|^s3proxy.endpoint=http://127.0.0.1:||p' "$dir/s3proxy.conf")
        [[ -n $port ]] || die "cannot read the port from $dir/s3proxy.conf"
        log "restarting the server of $dir on 127.0.0.1:$port"
    else
        port=$(free_ports 1) || die "could not pick a free port (python3)"
        mkdir -p "$dir/data" "$dir/tmp"
        # no s3proxy.virtual-host: path-style requests only (http://127.0.0.1:<port>/<bucket>/<key>)
        cat >"$dir/s3proxy.conf" <<EOF
# written by tests/services/s3proxy.sh: loopback only, filesystem backend, one test identity
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$ACCESS_KEY
s3proxy.credential=$SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$dir/data
EOF
        chmod 600 "$dir/s3proxy.conf"
    fi

    rm -f "$dir/s3proxy.pid"
    # stdin/stdout/stderr detached so that $(s3proxy.sh start DIR) returns; java.io.tmpdir in DIR
    # shellcheck disable=SC2086
    LOG_LEVEL=$LOG_LEVEL bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/s3proxy.pid" \
        "$JAVA" $JVM -Djava.awt.headless=true -Djava.io.tmpdir="$dir/tmp" \
        -jar "$JAR" --properties "$dir/s3proxy.conf" </dev/null >>"$dir/s3proxy.log" 2>&1 &
    started=$!

    fail() {
        log "error: $*"
        log "---- last lines of $dir/s3proxy.log"
        tail -n 40 "$dir/s3proxy.log" >&2 || true
        kill -TERM "$started" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$started" 2>/dev/null || break; sleep 1; done
        kill -KILL "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
        rm -f "$dir/s3proxy.pid"
        exit 1
    }
    trap 'fail "interrupted"' INT TERM HUP
    deadline=$((SECONDS + START_TIMEOUT))
    # 200 proves the port, the filesystem backend and the identity at once
    until [[ $(signed_status "$port") == 200 ]]; do
        kill -0 "$started" 2>/dev/null || fail "s3proxy exited during start-up"
        ((SECONDS < deadline)) || fail "a signed ListBuckets on port $port not 200 after ${START_TIMEOUT}s"
        sleep 0.2
    done
    trap - INT TERM HUP

    cat >"$dir/s3proxy.env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$port
S3_PORT=$port
S3_REGION=$REGION
S3_ACCESS_KEY_ID=$ACCESS_KEY
S3_SECRET_ACCESS_KEY=$SECRET_KEY
S3_DATA=$dir/data
S3_LOG=$dir/s3proxy.log
S3PROXY_VERSION=$VERSION
EOF
    cat "$dir/s3proxy.env"
}

# ---------------------------------------------------------------- stop, kill
stop() {
    local dir
    dir=$(need_dir "${1:-}")
    svc_stop "$dir/s3proxy.pid" "--properties $dir/s3proxy.conf"
}

kill_server() {
    local dir pid
    dir=$(need_dir "${1:-}")
    if pid=$(server_pid "$dir"); then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/s3proxy.pid"
}

# ---------------------------------------------------------------- main
cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
    fetch) fetch ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    kill) kill_server "$@" ;;
    *) usage ;;
esac
