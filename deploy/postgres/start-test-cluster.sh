#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: trust auth, loopback only, data in a temp dir.
#
#   eval "$(deploy/postgres/start-test-cluster.sh)"        # start; exports TEST_DATABASE_URL
#   deploy/postgres/start-test-cluster.sh --stop "$SB_TEST_PG_DIR"   # stop and delete it
#
# stdout carries only `export` lines (so `eval` works); progress goes to stderr.
# Port: SB_TEST_PG_PORT (default 55432). Binaries: initdb on PATH, else the newest
# /usr/lib/postgresql/*/bin (Debian's layout). As root the server runs as the `postgres` OS user,
# because PostgreSQL refuses to run as root.
set -euo pipefail

port="${SB_TEST_PG_PORT:-55432}"

log() { printf '%s\n' "$*" >&2; }

find_bindir() {
    # Resolve symlinks: some machines link initdb into /usr/local/bin but not pg_isready.
    if command -v initdb >/dev/null 2>&1; then
        local linked
        linked="$(dirname "$(readlink -f "$(command -v initdb)")")"
        if [[ -x "$linked/pg_ctl" && -x "$linked/pg_isready" ]]; then
            printf '%s\n' "$linked"
            return 0
        fi
    fi
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$dir" || ! -x "$dir/initdb" || ! -x "$dir/pg_isready" ]]; then
        log "error: no PostgreSQL server binaries (initdb) found; on Debian: apt-get install -y postgresql"
        exit 1
    fi
    printf '%s\n' "$dir"
}

# Runs a command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

stop_cluster() {
    local dir="$1"
    local bindir
    bindir="$(find_bindir)"
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    fi
    # Refuse to delete anything that does not look like a cluster this script made.
    if [[ -f "$dir/.switchboard-test-cluster" ]]; then
        rm -rf -- "$dir"
    fi
}

if [[ "${1:-}" == "--stop" ]]; then
    if [[ -z "${2:-}" ]]; then
        log "usage: $0 --stop <dir printed as SB_TEST_PG_DIR>"
        exit 2
    fi
    stop_cluster "$2"
    exit 0
fi

bindir="$(find_bindir)"
if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; then
    log "error: something already answers on 127.0.0.1:$port; stop it or set SB_TEST_PG_PORT"
    exit 1
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/sb-test-pg.XXXXXX")"
touch "$dir/.switchboard-test-cluster"
if [[ "$(id -u)" -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        log "error: running as root needs a 'postgres' OS user to own the cluster"
        exit 1
    fi
    chown postgres: "$dir"
fi
chmod 700 "$dir"

cleanup_on_failure() {
    log "PostgreSQL failed to start; log follows:"
    cat "$dir/server.log" >&2 2>/dev/null || true
    stop_cluster "$dir"
}
trap cleanup_on_failure ERR

log "initdb in $dir/data ($bindir)"
as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-instructions >/dev/null
# Durability is pointless for a cluster deleted after the run; these make the suite faster.
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(printf '%s ' \
    "-c listen_addresses=127.0.0.1" \
    "-c port=$port" \
    "-c unix_socket_directories=$dir" \
    "-c max_connections=200" \
    "-c fsync=off" \
    "-c synchronous_commit=off" \
    "-c full_page_writes=off")" >&2

for _ in $(seq 1 60); do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 1; then
        break
    fi
    sleep 0.5
done
"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -t 1
trap - ERR

log "PostgreSQL ready on 127.0.0.1:$port (data $dir; stop: $0 --stop $dir)"
printf 'export TEST_DATABASE_URL=%s\n' "postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
printf 'export SB_TEST_PG_DIR=%s\n' "$dir"
