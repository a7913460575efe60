#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and development.
#
#   scripts/postgres.sh start   starts one in a new temporary directory on
#                               127.0.0.1 and a free port, and prints its
#                               URL (the last line of output)
#   scripts/postgres.sh stop    stops the one `start` started, and deletes
#                               its directory
#
# It uses the server binaries under /usr/lib/postgresql/<version>/bin (the
# newest), or those on PATH; where there are none and apt-get is there, it
# installs the `postgresql` package. The server refuses to run as root, so
# as root the cluster belongs to the `postgres` OS user. `start` remembers
# the cluster in $AUTOMATION_HARNESS_PG_STATE (default
# /tmp/automation-harness-postgres.state) for `stop`.
set -euo pipefail

state=${AUTOMATION_HARNESS_PG_STATE:-/tmp/automation-harness-postgres.state}

bin_dir() {
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then
        echo "$newest"
    elif command -v initdb >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

# Runs a server binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin=$(bin_dir)
    if [ -z "$bin" ]; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            echo "no PostgreSQL server binaries: installing the postgresql package" >&2
            apt-get update -q >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
            bin=$(bin_dir)
        fi
        if [ -z "$bin" ]; then
            echo "no PostgreSQL server binaries (initdb, pg_ctl): install PostgreSQL" >&2
            exit 1
        fi
    fi
    if [ -f "$state" ]; then
        echo "a cluster is already running ($state): run '$0 stop' first" >&2
        exit 1
    fi
    local dir port tries
    dir=$(mktemp -d /tmp/automation-harness-pg.XXXXXX)
    trap 'rm -rf "$dir"' ERR
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port, tried: another process may take it between the look
    # and the server's start.
    for tries in 1 2 3 4 5; do
        port=$(free_port)
        # Durability is what the tests check: fsync stays on.
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200" start >&2; then
            printf '%s\n%s\n%s\n' "$dir" "$bin" "$port" >"$state"
            trap - ERR
            echo "postgres://postgres@127.0.0.1:$port/postgres"
            return 0
        fi
        echo "the server did not start on port $port (try $tries)" >&2
    done
    cat "$dir/server.log" >&2
    rm -rf "$dir"
    exit 1
}

# A port nothing listens on now.
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 40000))
    fi
}

stop() {
    [ -f "$state" ] || { echo "no cluster to stop ($state)" >&2; return 0; }
    local dir bin
    dir=$(sed -n 1p "$state")
    bin=$(sed -n 2p "$state")
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir" "$state"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
