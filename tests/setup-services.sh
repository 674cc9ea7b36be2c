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

# Docker: Debian's docker.io engine with its default flags (overlay2, iptables, cgroupfs)
# works in this container as root. Registries cannot be pulled from, so the image the test
# Dockerfiles name (python:3.11-slim) is made locally from a minimal Debian: python3, pip,
# and the guide template's light deps (flask, requests) from Debian, so `RUN pip install
# flask requests` needs no network. Built once; kept while the image exists.
BASE_IMAGE="python:3.11-slim"
DEBIAN_MIRROR="${TENSORNODE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${TENSORNODE_DOCKERD_LOG:-/var/log/tensornode-dockerd.log}"

install_docker() {
    command -v dockerd >/dev/null && command -v debootstrap >/dev/null && return 0
    if [ "$(id -u)" != 0 ]; then
        say "docker.io/debootstrap missing and not root: cannot install them"
        return 1
    fi
    say "installing docker.io and debootstrap with apt-get"
    if ! (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            docker.io debootstrap) >/tmp/tensornode-apt.log 2>&1; then
        say "apt-get install failed (see /tmp/tensornode-apt.log)"
        return 1
    fi
}

start_dockerd() {
    docker info >/dev/null 2>&1 && { say "Docker engine is running"; return 0; }
    if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null; then
        say "no Docker engine and cannot start dockerd (not root or not installed)"
        return 1
    fi
    say "starting dockerd (log: $DOCKERD_LOG)"
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { say "Docker engine started"; return 0; }
        sleep 0.5
    done
    say "dockerd did not answer within 30 s; last lines of $DOCKERD_LOG:"
    tail -n 5 "$DOCKERD_LOG" | sed 's/^/    /'
    return 1
}

build_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "image $BASE_IMAGE is present"
        return 0
    fi
    command -v debootstrap >/dev/null || { say "debootstrap missing: cannot build $BASE_IMAGE"; return 1; }
    local rootfs
    rootfs="$(mktemp -d /tmp/tensornode-rootfs.XXXXXX)"
    say "building $BASE_IMAGE from Debian bookworm minbase (about a minute)"
    if ! debootstrap --variant=minbase \
            --include=python3,python3-pip,python-is-python3,python3-flask,python3-requests \
            bookworm "$rootfs" "$DEBIAN_MIRROR" >/tmp/tensornode-debootstrap.log 2>&1; then
        say "debootstrap failed (see /tmp/tensornode-debootstrap.log)"
        rm -rf "$rootfs"
        return 1
    fi
    # like the real python:3.11-slim: pip may install system-wide
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    if tar -C "$rootfs" -c . | docker import \
            --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' --change 'ENV PYTHONUNBUFFERED=1' \
            --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null; then
        say "image $BASE_IMAGE built"
    else
        say "docker import of $BASE_IMAGE failed"
    fi
    rm -rf "$rootfs"
}

start_docker() {
    install_docker || { say "Docker tests will skip"; return; }
    start_dockerd || { say "Docker tests will skip"; return; }
    build_base_image || say "Docker tests will skip"
}

# Browser tests drive Debian's chromium with Playwright (never a downloaded browser).
install_chromium() {
    [ -x /usr/bin/chromium ] && { say "chromium is installed"; return 0; }
    if [ "$(id -u)" != 0 ]; then
        say "chromium missing and not root: browser tests will skip"
        return 1
    fi
    say "installing chromium with apt-get"
    if (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
            >/tmp/tensornode-apt-chromium.log 2>&1; then
        say "chromium installed"
    else
        say "apt-get install chromium failed (see /tmp/tensornode-apt-chromium.log): browser tests will skip"
        return 1
    fi
}

# SSH tests start their own sshd (Debian's openssh-server) on a loopback port.
install_sshd() {
    [ -x /usr/sbin/sshd ] && { say "openssh-server is installed"; return 0; }
    if [ "$(id -u)" != 0 ]; then
        say "openssh-server missing and not root: SSH tests will skip"
        return 1
    fi
    say "installing openssh-server with apt-get"
    if (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server) \
            >/tmp/tensornode-apt-sshd.log 2>&1; then
        say "openssh-server installed"
    else
        say "apt-get install openssh-server failed (see /tmp/tensornode-apt-sshd.log): SSH tests will skip"
        return 1
    fi
}

case "${1:-all}" in
    postgres) start_postgres ;;
    docker) start_docker ;;
    browser) install_chromium ;;
    sshd) install_sshd ;;
    all) start_postgres; start_docker; install_chromium; install_sshd ;;
    *) say "unknown service ${1}: use postgres, docker, browser, sshd or all"; exit 2 ;;
esac
