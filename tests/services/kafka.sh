#!/usr/bin/env bash
# A real Apache Kafka 4.x broker (single KRaft node, broker+controller) for sluice's tests and benchmarks.
# Jars come from Maven Central (see tests/services/kafka/pom.xml); recipe: ../shared/reference/test-services.md §1.
#
#   kafka.sh fetch              resolve the jars into $SLUICE_CACHE/kafka-<version>/libs (once per machine)
#   kafka.sh start DIR          format + start a broker in DIR on free loopback ports; prints KAFKA_BOOTSTRAP=...
#                               (a second start after stop reuses DIR's ports and data: same broker, same topics)
#   kafka.sh stop DIR           SIGTERM, up to 30 s, then SIGKILL; idempotent
#   kafka.sh topics DIR ARGS... org.apache.kafka.tools.TopicCommand --bootstrap-server <DIR's broker> ARGS...
#   kafka.sh run DIR CLASS ARGS...  any main class on the Kafka classpath (ProducerPerformance, ConnectStandalone)
#                               with $SLUICE_KAFKA_RUN_JVM (default -Xms256m -Xmx1g -XX:+UseG1GC),
#                               bounded by $SLUICE_KAFKA_RUN_TIMEOUT (default 3600 s)
#
# Environment: SLUICE_CACHE (default ~/.cache/sluice), SLUICE_KAFKA_VERSION (default 4.1.1),
# SLUICE_KAFKA_HEAP (default "-Xms256m -Xmx512m"), SLUICE_KAFKA_START_TIMEOUT (seconds, default 90),
# SLUICE_KAFKA_EXTRA_PROPERTIES (lines appended to server.properties on first start), JAVA (default java).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=${SLUICE_KAFKA_VERSION:-4.1.1}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
HOME_DIR=$CACHE/kafka-$VERSION
LIBS=$HOME_DIR/libs
JAVA=${JAVA:-java}
HEAP=${SLUICE_KAFKA_HEAP:-"-Xms256m -Xmx512m"}
START_TIMEOUT=${SLUICE_KAFKA_START_TIMEOUT:-90}
# short-lived tool JVMs: small heap, C1 only -> faster start
TOOL_JVM=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

SVC_NAME=kafka.sh
# shellcheck source=tests/services/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------- fetch
fetch() {
    local pom=$HERE/kafka/pom.xml stamp=$LIBS/.sluice-complete want
    want="kafka=$VERSION pom=$(sha256sum "$pom" | cut -d' ' -f1)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$HOME_DIR"
    # one fetch at a time per cache directory
    exec 9>"$HOME_DIR/.lock"
    timeout 900 flock 9 || die "timed out waiting for another fetch ($HOME_DIR/.lock)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        exec 9>&-; return 0
    fi
    log "fetching Apache Kafka $VERSION jars from Maven Central into $LIBS"
    local work
    work=$(mktemp -d "$HOME_DIR/fetch.XXXXXX")
    cp "$pom" "$work/pom.xml"            # run Maven outside the repository: nothing written in the tree
    if ! (cd "$work" && timeout 900 mvn -q -B -Dstyle.color=never \
            -Dkafka.version="$VERSION" \
            org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$work/libs" >&2); then
        rm -rf "$work"; exec 9>&-
        die "mvn copy-dependencies failed for Kafka $VERSION"
    fi
    [[ -f $work/libs/kafka_2.13-$VERSION.jar && -f $work/libs/kafka-tools-$VERSION.jar ]] \
        || { rm -rf "$work"; exec 9>&-; die "resolved libs lack kafka_2.13/kafka-tools $VERSION"; }
    if ls "$work/libs" | grep -q '^log4j-slf4j-impl-'; then
        rm -rf "$work"; exec 9>&-
        die "both slf4j1 and slf4j2 log4j bindings resolved: add an exclusion of log4j-slf4j-impl in $pom"
    fi
    rm -rf "$LIBS"
    mv "$work/libs" "$LIBS"
    rm -rf "$work"
    cat >"$HOME_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = OUT
EOF
    printf '%s\n' "$want" >"$stamp"
    exec 9>&-
    log "fetched $(ls "$LIBS" | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# ---------------------------------------------------------------- helpers
# pid from DIR/kafka.pid if that process is alive and really is DIR's broker
broker_pid() { svc_pid "$1/kafka.pid" "kafka.Kafka $1/server.properties"; }

port_open() {
    timeout 5 python3 -c '
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1"
}

classpath() { echo "$LIBS/*"; }

tool() {  # tool DIR CLASS ARGS... (stdout/stderr are the tool's); short admin commands
    local dir=$1 cls=$2; shift 2
    timeout "${SLUICE_KAFKA_TOOL_TIMEOUT:-300}" "$JAVA" "${TOOL_JVM[@]}" \
        -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -cp "$(classpath)" "$cls" "$@"
}

runjava() {  # runjava CLASS ARGS...: full JIT, G1 (perf tools, Connect)
    local cls=$1; shift
    local opts=${SLUICE_KAFKA_RUN_JVM:-"-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true"}
    # shellcheck disable=SC2086
    timeout "${SLUICE_KAFKA_RUN_TIMEOUT:-3600}" "$JAVA" $opts \
        -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -cp "$(classpath)" "$cls" "$@"
}

bootstrap_of() {
    local dir=$1
    [[ -f $dir/env ]] || die "$dir has no broker (run: kafka.sh start $dir)"
    sed -n 's/^KAFKA_BOOTSTRAP=//p' "$dir/env"
}

# ---------------------------------------------------------------- start
start() {
    local dir pid port cport cid deadline started
    dir=$(need_dir "${1:-}")
    fetch

    if pid=$(broker_pid "$dir"); then
        log "already running (pid $pid)"
        grep '^KAFKA_BOOTSTRAP=' "$dir/env"
        return 0
    fi

    if [[ -f $dir/server.properties && -f $dir/data/meta.properties ]]; then
        # restart of a stopped broker: same ports, same data
        port=$(sed -n 's|^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),.*|\1|p' "$dir/server.properties")
        cport=$(sed -n 's|^controller.quorum.bootstrap.servers=127.0.0.1:||p' "$dir/server.properties")
        [[ -n $port && -n $cport ]] || die "cannot read ports from $dir/server.properties"
        log "restarting the broker of $dir on 127.0.0.1:$port"
    else
        local ports
        ports=$(free_ports 2) || die "could not pick free ports (python3)"
        read -r port cport <<<"$ports"
        [[ -n $port && -n ${cport:-} ]] || die "could not pick free ports"
        mkdir -p "$dir/data"
        cat >"$dir/server.properties" <<EOF
# written by tests/services/kafka.sh: single-node KRaft, broker+controller, loopback only
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
EOF
        if [[ -n ${SLUICE_KAFKA_EXTRA_PROPERTIES:-} ]]; then
            printf '%s\n' "$SLUICE_KAFKA_EXTRA_PROPERTIES" >>"$dir/server.properties"
        fi
        cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = warn
EOF
        cid=$(tool "$dir" kafka.tools.StorageTool random-uuid | tail -n 1)
        [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave '$cid'"
        tool "$dir" kafka.tools.StorageTool format --standalone -t "$cid" -c "$dir/server.properties" \
            >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "StorageTool format failed"; }
    fi

    # the broker: stdin/stdout/stderr detached so that $(kafka.sh start DIR) returns
    rm -f "$dir/kafka.pid"
    # shellcheck disable=SC2086
    bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" \
        "$JAVA" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
        -Dkafka.logs.dir="$dir" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        -cp "$(classpath)" kafka.Kafka "$dir/server.properties" \
        </dev/null >>"$dir/kafka.log" 2>&1 &
    started=$!

    fail() {
        log "error: $*"
        log "---- last lines of $dir/kafka.log"
        tail -n 40 "$dir/kafka.log" >&2 || true
        kill -TERM "$started" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$started" 2>/dev/null || break; sleep 1; done
        kill -KILL "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
        rm -f "$dir/kafka.pid"
        exit 1
    }

    trap 'fail "interrupted"' INT TERM HUP
    deadline=$((SECONDS + START_TIMEOUT))
    until port_open "$port"; do
        kill -0 "$started" 2>/dev/null || fail "the broker exited during start-up"
        ((SECONDS < deadline)) || fail "port $port not open after ${START_TIMEOUT}s"
        sleep 0.2
    done
    until SLUICE_KAFKA_TOOL_TIMEOUT=30 tool "$dir" org.apache.kafka.tools.TopicCommand \
            --bootstrap-server "127.0.0.1:$port" --list >/dev/null 2>>"$dir/ready.log"; do
        kill -0 "$started" 2>/dev/null || fail "the broker exited during start-up"
        ((SECONDS < deadline)) || fail "broker does not serve metadata after ${START_TIMEOUT}s"
        sleep 1
    done

    trap - INT TERM HUP
    printf 'KAFKA_BOOTSTRAP=127.0.0.1:%s\nKAFKA_VERSION=%s\nKAFKA_LIBS=%s\n' "$port" "$VERSION" "$LIBS" >"$dir/env"
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
}

# ---------------------------------------------------------------- stop
stop() {
    local dir
    dir=$(need_dir "${1:-}")
    svc_stop "$dir/kafka.pid" "kafka.Kafka $dir/server.properties"
}

# ---------------------------------------------------------------- main
cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
    fetch) fetch ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    topics)
        dir=$(need_dir "${1:-}"); shift
        fetch
        tool "$dir" org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_of "$dir")" "$@" ;;
    run)
        dir=$(need_dir "${1:-}"); shift
        [[ $# -ge 1 ]] || usage
        fetch
        runjava "$@" ;;
    *) usage ;;
esac
