#!/usr/bin/env bash
# Start the local services the test suite uses, where this machine can. Each step is
# best-effort: a service that cannot be started makes its tests skip and say why.
set -uo pipefail

say() { printf 'setup-services: %s\n' "$*"; }

start_postgres() {
    if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
        say "PostgreSQL is running"
        return
    fi
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start \
            && say "PostgreSQL started" || say "PostgreSQL could not be started"
    else
        say "PostgreSQL is not installed: its tests will skip"
    fi
}

start_postgres
