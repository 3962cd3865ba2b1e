# scripts/lib/deps.sh — the one place that knows which Debian packages sluice needs and how to
# install them. Sourced by scripts/quickstart and scripts/test; not meant to be run on its own.
#
#   deps_install build        packages to build build/sluice and the plugins
#   deps_install build test   ... plus what the test suite needs (valgrind, pytest)
#
# Idempotent: asks dpkg what is already installed, and only when something is missing runs
# `apt-get update` once and `apt-get install` for the missing packages. Uses sudo only when not root.

SLUICE_DEPS_BUILD=(build-essential meson ninja-build pkg-config libyaml-dev libcjson-dev libcmocka-dev
                   librdkafka-dev libcurl4-openssl-dev)
SLUICE_DEPS_TEST=(valgrind python3 python3-pytest time)

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
