#!/usr/bin/env bash
# A real Confluent-compatible schema registry for sluice's tests: Apicurio Registry 3.x (Quarkus fast-jar
# distribution from Maven Central, io.apicurio:apicurio-registry-app:<v>:tar.gz:all), in-memory storage.
# Recipe: ../shared/reference/test-services.md §2; notes and measurements: tests/services/REGISTRY.md.
#
#   registry.sh fetch       download + unpack into $SLUICE_CACHE/apicurio-<version>/ (once per machine)
#   registry.sh start DIR   start a registry on a free loopback port, cwd DIR (log DIR/registry.log,
#                           pid DIR/registry.pid); waits until the Confluent API answers, then prints
#                           SCHEMA_REGISTRY_URL=http://127.0.0.1:<port>/apis/ccompat/v7 (also in DIR/env)
#   registry.sh stop DIR    SIGTERM, up to 30 s, then SIGKILL; idempotent
#   registry.sh java        prints the Java >= 21 that start would use, or fails saying what is missing
#
# Storage is in memory: a stopped registry forgets every schema; a new start gets a new port.
# Environment: SLUICE_CACHE (default ~/.cache/sluice), SLUICE_APICURIO_VERSION (default 3.3.3),
# SLUICE_REGISTRY_HEAP (default "-Xmx384m"), SLUICE_REGISTRY_START_TIMEOUT (seconds, default 120),
# JAVA (a java binary; default: the first Java >= 21 among `java` on PATH and /usr/lib/jvm/*/bin/java).
# Apicurio 3.3.x is compiled for Java 21 (class file 65): Debian 12's default OpenJDK 17 cannot run it.
set -euo pipefail

VERSION=${SLUICE_APICURIO_VERSION:-3.3.3}
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
APP_DIR=$CACHE/apicurio-$VERSION
DIST=$APP_DIR/dist
JAVA=${JAVA:-}
MIN_JAVA=21
HEAP=${SLUICE_REGISTRY_HEAP:-"-Xmx384m"}
START_TIMEOUT=${SLUICE_REGISTRY_START_TIMEOUT:-120}
ARTIFACT=io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

SVC_NAME=registry.sh
# shellcheck source=tests/services/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

# ---------------------------------------------------------------- fetch
run_jar() {  # the unpacked distribution's quarkus-run.jar (3.3.x: top level; 3.1.x: quarkus-app/)
    find "$DIST" -maxdepth 3 -name quarkus-run.jar -print -quit 2>/dev/null
}

fetch() {
    local stamp=$APP_DIR/.sluice-complete work tarball jar
    if [[ -f $stamp && "$(cat "$stamp")" == "$ARTIFACT" && -n "$(run_jar)" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$APP_DIR"
    # one fetch at a time per cache directory
    exec 9>"$APP_DIR/.lock"
    timeout 1200 flock 9 || die "timed out waiting for another fetch ($APP_DIR/.lock)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$ARTIFACT" && -n "$(run_jar)" ]]; then
        exec 9>&-; return 0
    fi
    log "fetching $ARTIFACT from Maven Central (~160 MB) into $APP_DIR"
    work=$(mktemp -d "$APP_DIR/fetch.XXXXXX")
    # cwd outside the repository (no pom.xml there: dependency:copy needs no project)
    if ! (cd "$work" && timeout 1200 mvn -q -B -Dstyle.color=never "$DEP_PLUGIN:copy" \
            -Dartifact="$ARTIFACT" -DoutputDirectory="$work" -Dmdep.overWriteReleases=true \
            >"$work/mvn.log" 2>&1); then
        tail -n 40 "$work/mvn.log" >&2 || true
        rm -rf "$work"; exec 9>&-
        die "mvn dependency:copy of $ARTIFACT failed"
    fi
    tarball=$work/apicurio-registry-app-$VERSION-all.tar.gz
    [[ -f $tarball ]] || { rm -rf "$work"; exec 9>&-; die "mvn did not produce $tarball"; }
    mkdir "$work/dist"
    if ! timeout 300 tar -xzf "$tarball" -C "$work/dist"; then
        rm -rf "$work"; exec 9>&-
        die "could not unpack $tarball"
    fi
    rm -f "$tarball"       # Maven keeps its own copy in ~/.m2; the cache only needs the unpacked tree
    jar=$(find "$work/dist" -maxdepth 3 -name quarkus-run.jar -print -quit)
    [[ -n $jar ]] || { rm -rf "$work"; exec 9>&-; die "no quarkus-run.jar in $ARTIFACT"; }
    rm -rf "$DIST"
    mv "$work/dist" "$DIST"
    rm -rf "$work"
    printf '%s\n' "$ARTIFACT" >"$stamp"
    exec 9>&-
    log "fetched Apicurio Registry $VERSION ($(du -sh "$DIST" | cut -f1)): $(run_jar)"
}

# ---------------------------------------------------------------- helpers
java_major() {  # java_major BIN: the feature version (17, 21, 25, ...) or nothing
    timeout 20 "$1" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

pick_java() {
    local cand major best= bestmajor=0
    if [[ -n $JAVA ]]; then
        major=$(java_major "$JAVA") || true
        [[ -n $major ]] || die "JAVA=$JAVA does not run"
        ((major >= MIN_JAVA)) || die "JAVA=$JAVA is Java $major; Apicurio $VERSION needs Java $MIN_JAVA+"
        return 0
    fi
    for cand in "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
        [[ -n $cand && -x $cand ]] || continue
        major=$(java_major "$cand") || true
        [[ -n $major ]] || continue
        if ((major >= MIN_JAVA)); then JAVA=$cand; return 0; fi
        if ((major > bestmajor)); then best=$cand; bestmajor=$major; fi
    done
    die "Apicurio $VERSION needs Java $MIN_JAVA+; found ${best:-no java} (Java $bestmajor). Install one (e.g. a Temurin JDK in /usr/lib/jvm) or set JAVA=/path/to/java"
}

# pid from DIR/registry.pid if that process is alive and really is DIR's registry
registry_pid() { svc_pid "$1/registry.pid" "-Dsluice.registry.dir=$1 "; }

# ---------------------------------------------------------------- start
start() {
    local dir pid jar port mport url deadline started attempt ports t0
    dir=$(need_dir "${1:-}")
    fetch
    jar=$(run_jar)
    pick_java

    if pid=$(registry_pid "$dir"); then
        log "already running (pid $pid)"
        grep '^SCHEMA_REGISTRY_URL=' "$dir/env"
        return 0
    fi
    mkdir -p "$dir/tmp"
    rm -f "$dir/env"

    kill_started() {
        [[ -n ${started:-} ]] || return 0
        kill -TERM "$started" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$started" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
        rm -f "$dir/registry.pid"
        started=
    }
    fail() {
        log "error: $*"
        log "---- last lines of $dir/registry.log"
        tail -n 40 "$dir/registry.log" >&2 || true
        kill_started
        exit 1
    }
    trap 'fail "interrupted"' INT TERM HUP

    # the picked ports are free when picked; if another process grabs one before the JVM binds it,
    # the JVM exits with "in use" and we try again with new ports
    t0=$SECONDS
    for attempt in 1 2 3; do
        ports=$(free_ports 2) || die "could not pick free ports (python3)"
        read -r port mport <<<"$ports"
        [[ -n $port && -n ${mport:-} ]] || die "could not pick free ports"
        url=http://127.0.0.1:$port/apis/ccompat/v7
        printf '==== registry.sh start attempt %s: port %s, management port %s\n' "$attempt" "$port" "$mport" \
            >>"$dir/registry.log"
        # cwd DIR, java.io.tmpdir DIR/tmp, user.home DIR: whatever Quarkus/Vert.x write stays in DIR.
        # stdin/stdout/stderr detached so that $(registry.sh start DIR) returns.
        rm -f "$dir/registry.pid"
        # shellcheck disable=SC2086
        (cd "$dir" && exec bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/registry.pid" \
            "$JAVA" $HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
            -Dsluice.registry.dir="$dir" \
            -Djava.io.tmpdir="$dir/tmp" -Duser.home="$dir" -Dvertx.cacheDirBase="$dir/tmp/vertx-cache" \
            -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
            -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$mport" \
            -Dapicurio.storage.snapshot.location="$dir/tmp" -Dapicurio.import.work-dir="$dir/tmp" \
            -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
            -jar "$jar" \
            </dev/null >>"$dir/registry.log" 2>&1) &
        started=$!

        deadline=$((SECONDS + START_TIMEOUT))
        while :; do
            if [[ "$(timeout 5 curl -sf "$url/subjects" 2>/dev/null)" == "[]" ]]; then
                break 2
            fi
            if ! kill -0 "$started" 2>/dev/null; then
                wait "$started" 2>/dev/null || true
                started=
                if ((attempt < 3)) && tail -n 60 "$dir/registry.log" | grep -qiE 'address already in use|port .* (seems to be )?in use'; then
                    log "port taken before the registry bound it; trying other ports"
                    continue 2
                fi
                fail "the registry exited during start-up"
            fi
            ((SECONDS < deadline)) || fail "$url/subjects did not answer [] after ${START_TIMEOUT}s"
            sleep 0.5
        done
    done
    [[ -n ${started:-} ]] || fail "could not start the registry"

    trap - INT TERM HUP
    printf 'SCHEMA_REGISTRY_URL=%s\nAPICURIO_VERSION=%s\n' "$url" "$VERSION" >"$dir/env"
    log "Apicurio Registry $VERSION up in $((SECONDS - t0)) s (pid $started, $JAVA)"
    echo "SCHEMA_REGISTRY_URL=$url"
}

# ---------------------------------------------------------------- stop
stop() {
    local dir
    dir=$(need_dir "${1:-}")
    svc_stop "$dir/registry.pid" "-Dsluice.registry.dir=$dir "
}

# ---------------------------------------------------------------- main
cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
    fetch) fetch ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    java) pick_java; command -v "$JAVA" ;;
    *) usage ;;
esac
