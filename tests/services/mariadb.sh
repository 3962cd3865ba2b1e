#!/usr/bin/env bash
# A throwaway MariaDB server for sluice's mysql-cdc and mysql tests: loopback only, a free port, its
# data directory inside DIR, a row-based binlog with full row images and full row metadata (column
# names in TABLE_MAP events). Recipe: ../shared/reference/test-services.md §6.
#
#   mariadb.sh start DIR   mariadb-install-db into DIR/data (first start), then mariadbd in the
#                          background (log DIR/error.log, pid DIR/run/mysqld.pid); waits until it
#                          answers; on first start creates the users below; writes the facts to
#                          DIR/mariadb.env and prints them (KEY=value lines).
#                          A second start after stop reuses DIR: same port, same data, same binlog.
#   mariadb.sh stop DIR    clean shutdown (SIGTERM, SIGKILL after 30 s); idempotent.
#   mariadb.sh kill DIR    SIGKILL (a crash: the next start recovers); idempotent.
#   mariadb.sh sql DIR SQL runs SQL as root (the mariadb client, batch mode, tab-separated output).
#
# DIR/mariadb.env:
#   MYSQL_HOST=127.0.0.1  MYSQL_PORT=<port>  MYSQL_SOCKET=/tmp/sluice-mariadb-<hash of DIR>.sock
#   (a Unix socket path may not exceed 107 bytes, and DIR may be deep)
#   MYSQL_ROOT_USER=root  MYSQL_ROOT_PASSWORD=root-sluiceCANARY-pw  (all privileges, from 127.0.0.1 too)
#   MYSQL_CDC_USER=cdc    MYSQL_CDC_PASSWORD=cdc-sluiceCANARY-pw    (SELECT, RELOAD, SHOW DATABASES,
#                                                     REPLICATION SLAVE, BINLOG MONITOR, LOCK TABLES)
#   MYSQL_APP_USER=app    MYSQL_APP_PASSWORD=app-sluiceCANARY-pw    (ALL on every database, no
#                                                     replication: for sinks and missing-privilege tests)
#   (every password holds sluiceCANARY: the suite checks that none ever shows in sluice's output,
#   tests/integration/sluicetest.py)
#   MYSQL_SERVER_ID=<random 1..2^31>  MYSQL_DATADIR=DIR/data  MYSQL_LOG=DIR/error.log
# Needs mariadb-server-core and mariadb-client (scripts/lib/deps.sh, group test).
# Environment: SLUICE_MARIADB_START_TIMEOUT (seconds, default 60), SLUICE_MARIADB_ARGS (more
# mariadbd options, e.g. "--binlog-format=STATEMENT" for a misconfigured-server test).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
START_TIMEOUT=${SLUICE_MARIADB_START_TIMEOUT:-60}

SVC_NAME=mariadb.sh
# shellcheck source=tests/services/lib.sh
. "$HERE/lib.sh"

find_bin() {
    local b
    for b in "$@"; do
        if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
        if [[ -x /usr/sbin/$b ]]; then echo "/usr/sbin/$b"; return 0; fi
    done
    die "none of $* found: install mariadb-server-core and mariadb-client (scripts/lib/deps.sh)"
}

server_pid() { svc_pid "$1/run/mysqld.pid" "$1/data"; }
sock_of() { echo "/tmp/sluice-mariadb-$(printf '%s' "$1" | sha256sum | cut -c1-16).sock"; }

client() { # client DIR args...: the mariadb client as root over the socket
    local dir=$1
    shift
    local pw=()
    # root has no password until the first start set one (and wrote it down)
    if [[ -f $dir/rootpw ]]; then pw=(--password="$(cat "$dir/rootpw")"); fi
    timeout 60 "$(find_bin mariadb mysql)" --no-defaults --socket="$(sock_of "$dir")" -uroot \
        "${pw[@]}" --batch "$@"
}

start() {
    local dir port server_id
    dir=$(need_dir "${1:-}")
    mkdir -p "$dir/run" "$dir/tmp" # its own tmpdir: servers side by side never share a temp name
    if pid=$(server_pid "$dir"); then
        log "already running (pid $pid)"
        cat "$dir/mariadb.env"
        return 0
    fi
    local first=0
    if [[ ! -d $dir/data/mysql ]]; then
        first=1
        rm -rf "$dir/data"
        mkdir -p "$dir/data" "$dir/tmp"
        log "initialising $dir/data"
        timeout 120 "$(find_bin mariadb-install-db mysql_install_db)" --no-defaults --datadir="$dir/data" \
            --user=root --auth-root-authentication-method=normal --skip-test-db --tmpdir="$dir/tmp" \
            >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
        port=$(free_ports 1)
        server_id=$((RANDOM * 32768 + RANDOM + 1))
        echo "$port $server_id" >"$dir/port"
    fi
    read -r port server_id <"$dir/port"
    local extra=()
    if [[ -n ${SLUICE_MARIADB_ARGS:-} ]]; then read -r -a extra <<<"$SLUICE_MARIADB_ARGS"; fi
    # setsid: the server outlives this script and is not in the test runner's process group
    setsid "$(find_bin mariadbd mysqld)" --no-defaults --user=root --datadir="$dir/data" \
        --socket="$(sock_of "$dir")" --pid-file="$dir/run/mysqld.pid" \
        --tmpdir="$dir/tmp" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve --log-error="$dir/error.log" \
        --log-bin="$dir/data/mariadb-bin" --server-id="$server_id" --binlog-format=ROW \
        --binlog-row-image=FULL --binlog-row-metadata=FULL --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_general_ci --innodb-buffer-pool-size=64M \
        --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 --max-connections=200 \
        "${extra[@]}" </dev/null >>"$dir/mariadbd.out" 2>&1 &
    local deadline=$((SECONDS + START_TIMEOUT))
    local spid=$!
    until [[ -S $(sock_of "$dir") ]] && client "$dir" -e 'SELECT 1' >/dev/null 2>&1; do
        if ! kill -0 "$spid" 2>/dev/null; then
            tail -n 30 "$dir/error.log" >&2 || true
            die "mariadbd exited while starting (log $dir/error.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$dir/error.log" >&2 || true
            die "mariadbd did not answer within ${START_TIMEOUT} s (log $dir/error.log)"
        fi
        sleep 0.1
    done
    if ((first)); then
        client "$dir" -e "
            CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
            GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
            ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'root-sluiceCANARY-pw';
            CREATE USER 'cdc'@'%' IDENTIFIED BY 'cdc-sluiceCANARY-pw';
            GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, LOCK TABLES
                ON *.* TO 'cdc'@'%';
            CREATE USER 'app'@'%' IDENTIFIED BY 'app-sluiceCANARY-pw';
            GRANT ALL ON *.* TO 'app'@'%';
            REVOKE REPLICATION SLAVE, BINLOG MONITOR ON *.* FROM 'app'@'%';
            ALTER USER 'root'@'localhost' IDENTIFIED BY 'root-sluiceCANARY-pw';
            FLUSH PRIVILEGES;" ||
            die "creating the test users failed"
        echo root-sluiceCANARY-pw >"$dir/rootpw"
    fi
    cat >"$dir/mariadb.env" <<EOF
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$port
MYSQL_SOCKET=$(sock_of "$dir")
MYSQL_ROOT_USER=root
MYSQL_ROOT_PASSWORD=root-sluiceCANARY-pw
MYSQL_CDC_USER=cdc
MYSQL_CDC_PASSWORD=cdc-sluiceCANARY-pw
MYSQL_APP_USER=app
MYSQL_APP_PASSWORD=app-sluiceCANARY-pw
MYSQL_SERVER_ID=$server_id
MYSQL_DATADIR=$dir/data
MYSQL_LOG=$dir/error.log
EOF
    cat "$dir/mariadb.env"
}

stop() {
    local dir
    dir=$(need_dir "${1:-}")
    svc_stop "$dir/run/mysqld.pid" "$dir/data"
}

kill_server() {
    local dir pid
    dir=$(need_dir "${1:-}")
    if pid=$(server_pid "$dir"); then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/run/mysqld.pid"
}

case ${1:-} in
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    kill) kill_server "${2:-}" ;;
    sql)
        d=$(need_dir "${2:-}")
        [[ -n ${3:-} ]] || usage
        client "$d" -e "$3"
        ;;
    *) usage ;;
esac
