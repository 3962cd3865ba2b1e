# scripts/lib/deps.sh — the one place that knows which Debian packages sluice needs and how to
# install them. Sourced by scripts/quickstart and scripts/test; not meant to be run on its own.
#
#   deps_install build        packages to build build/sluice and the plugins
#   deps_install build test   ... plus what the test suite needs (valgrind, Python's venv, Maven and
#                             a JRE for the Kafka and schema-registry jars, kcat, clang-format-14,
#                             clang-14 and libFuzzer for tests/fuzz)
#   deps_install firmware     avr-gcc, avr-libc, the Arduino AVR core and arduino-mk to build the
#                             light sensor's firmware, simavr and its headers for sluice-sim
#   deps_install package      Debian's packaging tools for scripts/package and its test
#                             (debhelper, lintian, pandoc for the man pages, mmdebstrap for a clean
#                             Debian 12 root, systemd-nspawn to boot it, buildah/podman for the image)
#   deps_venv                 the test suite's Python venv outside the repository (pytest,
#                             confluent-kafka, fastavro, kafka-connect-py, boto3 from PyPI); prints nothing on stdout
#   deps_services             fetches the jars of the real services once (Kafka, Apicurio, s3proxy) and
#                             checks that a Java >= 21 exists for the registry
#
# Idempotent: asks dpkg what is already installed, and only when something is missing runs
# `apt-get update` once and `apt-get install` for the missing packages. Uses sudo only when not root.

SLUICE_DEPS_BUILD=(build-essential meson ninja-build pkg-config libyaml-dev libcjson-dev libcmocka-dev
                   librdkafka-dev libcurl4-openssl-dev libmariadb-dev libmicrohttpd-dev libncurses-dev
                   zlib1g-dev libssl-dev libavro-dev)
# Java 17 runs Kafka; the schema registry (Apicurio 3.3) needs Java >= 21, which Debian 12 does not
# package: tests/services/registry.sh finds one in /usr/lib/jvm (or $JAVA) and deps_services says so.
# apache2-utils: ab, the load generator of tests/bench/worker_bench.py (a C client).
# clang-format-14: scripts/format and scripts/test's format check pin this version (Debian 12's).
# prometheus: tests/services/prometheus.sh scrapes `sluice run`'s /metrics; its promtool checks the
# exposition. tmux: tests/integration/test_top.py drives `sluice top` in a terminal of known size.
# chromium, chromium-driver: tests/integration/test_ui.py drives the dashboard (GET /ui) in headless
# Chromium through Selenium (Debian's chromedriver, so that Selenium downloads no browser or driver).
# faketime: libfaketime sets sluice's clock two days back against s3proxy (test_s3's clock skew).
SLUICE_DEPS_TEST=(apache2-utils valgrind python3 python3-venv time procps curl kcat maven openjdk-17-jre-headless
                  openssh-server mariadb-server-core mariadb-client clang-format-14
                  clang-14 libclang-rt-14-dev prometheus chromium chromium-driver tmux faketime)

# The firmware (firmware/build.sh: arduino-mk, a Makefile, drives avr-gcc over Debian's Arduino core)
# and its simulator (firmware/sim: libsimavr, which needs libelf). arduino-mk depends on the Arduino
# IDE package, so this group brings a Java runtime too.
SLUICE_DEPS_FIRMWARE=(gcc-avr binutils-avr avr-libc arduino-core-avr arduino-mk make simavr
                      libsimavr-dev libelf-dev)

# scripts/package (debhelper with the meson build system; pandoc makes the man pages from the docs),
# lintian to check the result, and for tests/package: mmdebstrap (a clean Debian 12 root to install
# the .deb into), systemd-analyze (in systemd) for the unit, systemd-nspawn (systemd-container) to
# boot that root with systemd and run the unit for real, buildah/podman for the image.
SLUICE_DEPS_PACKAGE=(debhelper dpkg-dev fakeroot lintian pandoc mmdebstrap systemd systemd-container
                     buildah podman)

# The test suite's Python packages (PyPI), installed into $SLUICE_VENV, never into the system.
SLUICE_CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
SLUICE_VENV=${SLUICE_VENV:-$SLUICE_CACHE/venv}
# confluent-kafka with its Avro + Schema Registry client extras (httpx, certifi, attrs, ...), as the
# tests use its AvroSerializer against the real registry; kafka-connect-py, a Kafka Connect REST
# client operators use, drives the worker's REST API (tests/integration/test_rest_client.py);
# selenium drives headless Chromium on the dashboard (tests/integration/test_ui.py); 4.51.0:
# 4.52.0 asks certifi >= 2026.10.23, which pip cannot resolve beside confluent-kafka's extras;
# boto3, the AWS SDK, reads what the s3 sink wrote from the real S3 server (tests/services/s3proxy.sh)
SLUICE_VENV_REQUIREMENTS=(pytest==9.2.0 "confluent-kafka[avro,schemaregistry]==2.16.1" fastavro==1.13.1
                          kafka-connect-py==1.0.0 selenium==4.51.0 boto3==1.44.5)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

deps_missing() {
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            printf '%s\n' "$pkg"
        fi
    done
}

deps_install() {
    local want=() group
    for group in "$@"; do
        case "$group" in
            build) want+=("${SLUICE_DEPS_BUILD[@]}") ;;
            test) want+=("${SLUICE_DEPS_TEST[@]}") ;;
            firmware) want+=("${SLUICE_DEPS_FIRMWARE[@]}") ;;
            package) want+=("${SLUICE_DEPS_PACKAGE[@]}") ;;
            *) echo "deps_install: unknown group '$group'" >&2; return 2 ;;
        esac
    done
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "no dpkg/apt-get here: install these yourself: ${want[*]}"
        return 0
    fi
    local missing
    mapfile -t missing < <(deps_missing "${want[@]}")
    if [ "${#missing[@]}" -eq 0 ]; then
        say "Debian packages already installed: ${want[*]}"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "need root or sudo to install: ${missing[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    say "installing missing Debian packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 1200 \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# deps_venv: creates or refreshes $SLUICE_VENV (default ~/.cache/sluice/venv) with
# SLUICE_VENV_REQUIREMENTS. A stamp file records the base interpreter and the requirements; when it
# matches and the packages import, nothing is run. One at a time per venv (flock), every step bounded.
deps_venv() {
    local base want stamp=$SLUICE_VENV/.sluice-requirements
    base=$(command -v /usr/bin/python3 || command -v python3) || { say "no python3"; return 1; }
    want="$base $("$base" -c 'import sys; print(sys.version.split()[0])') ${SLUICE_VENV_REQUIREMENTS[*]}"
    mkdir -p "$(dirname "$SLUICE_VENV")"
    (
        exec 8>"$SLUICE_VENV.lock"
        timeout 900 flock 8 || { say "timed out waiting for $SLUICE_VENV.lock"; exit 1; }
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
            timeout 60 "$SLUICE_VENV/bin/python" -c 'import pytest, confluent_kafka, fastavro, kafka_connect, selenium, boto3' \
                2>/dev/null; then
            say "Python venv up to date: $SLUICE_VENV (${SLUICE_VENV_REQUIREMENTS[*]})"
            exit 0
        fi
        if ! timeout 60 "$SLUICE_VENV/bin/python" -c 'import sys' 2>/dev/null ||
            [ "$(sed -n 's/^home = //p' "$SLUICE_VENV/pyvenv.cfg" 2>/dev/null)" != "$(dirname "$base")" ]; then
            say "creating the Python venv $SLUICE_VENV ($base)"
            rm -rf "$SLUICE_VENV"
            timeout 300 "$base" -m venv "$SLUICE_VENV" >&2 || {
                say "python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
        fi
        rm -f "$stamp"
        say "installing into $SLUICE_VENV from PyPI: ${SLUICE_VENV_REQUIREMENTS[*]}"
        timeout 900 "$SLUICE_VENV/bin/python" -m pip install -q --disable-pip-version-check \
            --timeout 60 --retries 3 "${SLUICE_VENV_REQUIREMENTS[@]}" >&2 || {
            say "pip install into $SLUICE_VENV failed"; exit 1; }
        timeout 60 "$SLUICE_VENV/bin/python" -c 'import pytest, confluent_kafka, fastavro, kafka_connect, selenium, boto3' >&2 || exit 1
        printf '%s\n' "$want" >"$stamp"
    )
}

# deps_services: the real services' jars, fetched once into $SLUICE_CACHE (Maven Central through mvn;
# the scripts bound each download), and a Java >= 21 for the schema registry.
deps_services() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/services"
    say "Kafka jars (tests/services/kafka.sh fetch)"
    timeout 1200 "$here/kafka.sh" fetch || { say "fetching Kafka's jars failed"; return 1; }
    say "Apicurio Registry (tests/services/registry.sh fetch)"
    timeout 1500 "$here/registry.sh" fetch || { say "fetching Apicurio Registry failed"; return 1; }
    local java
    java=$(timeout 120 "$here/registry.sh" java) || {
        say "no Java >= 21 for the schema registry (Apicurio): install a JDK 21+ under /usr/lib/jvm or set JAVA"
        return 1; }
    say "schema registry runs on $java; Kafka on $(command -v java)"
}
