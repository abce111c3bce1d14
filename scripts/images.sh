#!/usr/bin/env bash
# Ensures the local images faaspot needs exist on the Docker engine, building them from Debian
# packages with debootstrap where no registry answers (this machine has none).
#
#   scripts/images.sh base    -> prints the base image to use (python:3.12-slim if pullable,
#                                else the locally built faaspot/python:bookworm)
#   scripts/images.sh redis   -> ensures faaspot/redis:bookworm (for testcontainers) exists
#   scripts/images.sh all     -> both
#
# Progress goes to stderr; only the image name (for "base") goes to stdout.
set -euo pipefail

BASE_LOCAL=${FAASPOT_LOCAL_BASE_IMAGE:-faaspot/python:bookworm}
REDIS_LOCAL=${FAASPOT_TEST_REDIS_IMAGE:-faaspot/redis:bookworm}
UPSTREAM_BASE=${FAASPOT_BASE_IMAGE:-python:3.12-slim}

log() { echo "images: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

mirror() {
  local m
  m=$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}') || true
  [ -n "$m" ] || m=$(grep -hoE '^deb +[^ ]+' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}') || true
  echo "${m:-http://deb.debian.org/debian}"
}

need_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  log "installing debootstrap"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
}

# bootstrap NAME PACKAGES [docker import --change ...]
bootstrap() {
  local name=$1 pkgs=$2; shift 2
  need_debootstrap
  local dir
  dir=$(mktemp -d /tmp/faaspot-rootfs-XXXX)
  log "debootstrap $name ($pkgs) from $(mirror), about a minute"
  debootstrap --variant=minbase --include="$pkgs" bookworm "$dir" "$(mirror)" >&2
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import "$@" --change 'LABEL io.faaspot.managed=true' - "$name" >&2
  rm -rf "$dir"
  log "built $name"
}

base() {
  if have_image "$UPSTREAM_BASE"; then echo "$UPSTREAM_BASE"; return; fi
  if [ "$UPSTREAM_BASE" = "python:3.12-slim" ] && timeout 60 docker pull -q "$UPSTREAM_BASE" >/dev/null 2>&1; then
    echo "$UPSTREAM_BASE"; return
  fi
  if ! have_image "$BASE_LOCAL"; then
    log "cannot pull $UPSTREAM_BASE; building $BASE_LOCAL locally"
    bootstrap "$BASE_LOCAL" python3,python3-pip,ca-certificates --change 'CMD ["python3"]'
  fi
  echo "$BASE_LOCAL"
}

redis() {
  have_image "$REDIS_LOCAL" && return
  bootstrap "$REDIS_LOCAL" redis-server \
    --change 'CMD ["redis-server","--protected-mode","no","--save","","--appendonly","no"]' \
    --change 'EXPOSE 6379'
}

case "${1:-all}" in
  base) base ;;
  redis) redis ;;
  all) base >/dev/null; redis ;;
  *) echo "usage: $0 base|redis|all" >&2; exit 2 ;;
esac
