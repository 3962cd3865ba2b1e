#!/usr/bin/env bash
# A real Kafka Connect standalone worker (Apache Kafka 4.x, the jars kafka.sh fetches) against a
# broker of kafka.sh, with its REST API on a free loopback port: the reference that sluice's REST API
# is compared with (issue 17). Recipe: ../shared/reference/test-services.md §1 (Connect standalone).
#
#   connect.sh start DIR BOOTSTRAP   writes DIR/connect.properties (Kafka's connect-standalone.properties
#                          values: JsonConverter with schemas, file offsets in DIR/connect.offsets) and
#                          starts ConnectStandalone with no connector (they are created over REST);
#                          log DIR/connect.log, pid DIR/connect.pid; waits until GET /health answers 200;
#                          writes the facts to DIR/connect.env and prints them (KEY=value lines).
#                          A second start after stop reuses DIR: same port, same offsets.
#   connect.sh stop DIR    SIGTERM, SIGKILL after 30 s; idempotent.
#
# BOOTSTRAP is the KAFKA_BOOTSTRAP=127.0.0.1:<port> that `kafka.sh start` printed (the value alone).
# The FileStream connectors: since Kafka 3.2 connect-file is not on the worker's classpath in the
# distribution (it lives in libs/ but bin/connect-*.sh leave it out); here too it is kept off the
# classpath and found through plugin.path=DIR/plugins, as an operator installs a connector.
#
# DIR/connect.env:
#   CONNECT_URL=http://127.0.0.1:<port>  CONNECT_PORT=<port>  CONNECT_LOG=DIR/connect.log
#   CONNECT_OFFSETS=DIR/connect.offsets  CONNECT_VERSION=<Kafka version>
# Environment: SLUICE_CONNECT_START_TIMEOUT (seconds, default 120), SLUICE_CONNECT_JVM (default
# "-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1": C1 only, it starts faster on 2 busy
# cores), SLUICE_KAFKA_VERSION and SLUICE_CACHE as kafka.sh, JAVA (default java).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=${SLUICE_KAFKA_VERSION:-4.1.1}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
LIBS=$CACHE/kafka-$VERSION/libs
JAVA=${JAVA:-java}
START_TIMEOUT=${SLUICE_CONNECT_START_TIMEOUT:-120}
JVM=${SLUICE_CONNECT_JVM:-"-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"}
MAIN=org.apache.kafka.connect.cli.ConnectStandalone

SVC_NAME=connect.sh
# shellcheck source=tests/services/lib.sh
. "$HERE/lib.sh"

worker_pid() { svc_pid "$1/connect.pid" "$MAIN $1/connect.properties"; }

# status DIR PATH: the HTTP status of GET PATH on DIR's worker (000 when nothing answers)
http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$2" || true
}

start() {
    local dir bootstrap port pid started deadline cp jar
    dir=$(need_dir "${1:-}")
    bootstrap=${2:-}
    command -v curl >/dev/null || die "curl not found (scripts/lib/deps.sh, group test)"
    "$HERE/kafka.sh" fetch

    if pid=$(worker_pid "$dir"); then
        log "already running (pid $pid)"
        cat "$dir/connect.env"
        return 0
    fi

    if [[ -f $dir/connect.properties ]]; then
        port=$(sed -n 's|^listeners=http://127.0.0.1:||p' "$dir/connect.properties")
        [[ -n $port ]] || die "cannot read the port from $dir/connect.properties"
        log "restarting the worker of $dir on 127.0.0.1:$port"
    else
        [[ $bootstrap =~ ^[A-Za-z0-9.-]+:[0-9]+(,[A-Za-z0-9.-]+:[0-9]+)*$ ]] ||
            die "usage: connect.sh start DIR BOOTSTRAP (host:port of kafka.sh's broker), got '$bootstrap'"
        jar=$(ls "$LIBS"/connect-file-"$VERSION".jar 2>/dev/null) ||
            die "no connect-file-$VERSION.jar in $LIBS (tests/services/kafka/pom.xml lists it)"
        mkdir -p "$dir/plugins/connect-file"
        cp "$jar" "$dir/plugins/connect-file/"
        port=$(free_ports 1) || die "could not pick a free port (python3)"
        cat >"$dir/connect.properties" <<EOF
# written by tests/services/connect.sh: Kafka's config/connect-standalone.properties, on loopback
bootstrap.servers=$bootstrap
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=$dir/connect.offsets
# 1 s instead of 10 s: the tests read the source offsets soon after the records flowed
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$port
plugin.path=$dir/plugins
plugin.discovery=hybrid_warn
EOF
        cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
logger.common.name = org.apache.kafka.common
logger.common.level = warn
logger.reflections.name = org.reflections
logger.reflections.level = error
EOF
    fi

    # the classpath: every jar of libs/ but connect-file (found through plugin.path instead)
    cp=$(find "$LIBS" -maxdepth 1 -name '*.jar' ! -name 'connect-file-*' | sort | paste -sd:)

    rm -f "$dir/connect.pid"
    # setsid: the worker outlives this script and is not in the test runner's process group
    # shellcheck disable=SC2086
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/connect.pid" \
        "$JAVA" $JVM -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        -cp "$cp" "$MAIN" "$dir/connect.properties" </dev/null >>"$dir/connect.log" 2>&1 &
    started=$!

    fail() {
        log "error: $*"
        log "---- last lines of $dir/connect.log"
        tail -n 40 "$dir/connect.log" >&2 || true
        local p
        p=$(cat "$dir/connect.pid" 2>/dev/null || echo "$started")
        kill -TERM "$p" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 1; done
        kill -KILL "$p" 2>/dev/null || true
        rm -f "$dir/connect.pid"
        exit 1
    }
    trap 'fail "interrupted"' INT TERM HUP
    deadline=$((SECONDS + START_TIMEOUT))
    # /health (KIP-1017) answers 503 until the worker has started, then 200
    until [[ $(http_status "$port" /health) == 200 ]]; do
        kill -0 "$started" 2>/dev/null || fail "the worker exited during start-up"
        ((SECONDS < deadline)) || fail "GET /health on port $port not 200 after ${START_TIMEOUT}s"
        sleep 0.5
    done
    trap - INT TERM HUP

    cat >"$dir/connect.env" <<EOF
CONNECT_URL=http://127.0.0.1:$port
CONNECT_PORT=$port
CONNECT_LOG=$dir/connect.log
CONNECT_OFFSETS=$dir/connect.offsets
CONNECT_VERSION=$VERSION
EOF
    cat "$dir/connect.env"
}

stop() {
    local dir
    dir=$(need_dir "${1:-}")
    svc_stop "$dir/connect.pid" "$MAIN $dir/connect.properties"
}

case ${1:-} in
    start) start "${2:-}" "${3:-}" ;;
    stop) stop "${2:-}" ;;
    *) usage ;;
esac
