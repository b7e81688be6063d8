#!/usr/bin/env bash
# Install what the tests need and run them: the README's test command.
#
# The store's tests run against SQLite and PostgreSQL. This script installs
# PostgreSQL from the distribution's packages when it is missing, starts a
# private cluster on 127.0.0.1 (a free port, a temporary directory), hands its
# DSN to the tests in ORDER_LIFECYCLE_TEST_POSTGRES, and stops it on exit
# (without one, the PostgreSQL half of the store tests fails rather than skips).
# Set ORDER_LIFECYCLE_TEST_POSTGRES yourself to use a server you already run.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e '.[test]'

find_pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
        fi
    done | sort -V | tail -n 1
}

start_postgres() {
    local bin
    bin="$(find_pg_bin)"
    if [ -z "$bin" ]; then
        echo "scripts/test.sh: installing PostgreSQL from the distribution's packages" >&2
        if [ "$(id -u)" -eq 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        fi
        bin="$(find_pg_bin)"
    fi
    if [ -z "$bin" ]; then
        echo "scripts/test.sh: PostgreSQL could not be installed" >&2
        exit 1
    fi
    PG_DIR="$(mktemp -d /tmp/order-lifecycle-pg.XXXXXX)"
    local port
    port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    # PostgreSQL refuses to run as root: run the cluster as the `postgres` user.
    local run=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$PG_DIR"
        run=(runuser -u postgres --)
    fi
    "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1
    "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=100" \
        start >/dev/null
    PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop)
    export ORDER_LIFECYCLE_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/postgres"
}

stop_postgres() {
    if [ -n "${PG_STOP+x}" ]; then
        "${PG_STOP[@]}" >/dev/null 2>&1 || true
    fi
    if [ -n "${PG_DIR:-}" ]; then
        rm -rf "$PG_DIR"
    fi
}

if [ -z "${ORDER_LIFECYCLE_TEST_POSTGRES:-}" ]; then
    trap stop_postgres EXIT
    start_postgres
fi
python -m pytest "$@"
