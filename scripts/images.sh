#!/usr/bin/env bash
# Ensures the local images faaspot needs exist on the Docker engine, building them from Debian
# packages with debootstrap where no registry answers (this machine has none).
#
#   scripts/images.sh base    -> prints the base image to use (python:3.12-slim if pullable,
#                                else the locally built faaspot/python:bookworm)
#   scripts/images.sh redis   -> ensures faaspot/redis:bookworm (for testcontainers) exists
#   scripts/images.sh all     -> both
#
# Progress goes to stderr, one line per image built (debootstrap's output goes to a log file, whose
# tail is shown when a build fails); only the image name (for "base") goes to stdout.
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
  echo "installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}

# rootfs_import NAME PACKAGES [docker import --change ...]: debootstrap a Debian with PACKAGES and
# import it as the image NAME. Noisy: its caller sends the output to a log.
rootfs_import() {
  local name=$1 pkgs=$2 dir; shift 2
  need_debootstrap || return 1
  dir=$(mktemp -d /tmp/faaspot-rootfs-XXXX) || return 1
  echo "debootstrap $name ($pkgs) from $(mirror)"
  if debootstrap --variant=minbase --include="$pkgs" bookworm "$dir" "$(mirror)" &&
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* &&
    tar -C "$dir" -c . | docker import "$@" --change 'LABEL io.faaspot.managed=true' - "$name"; then
    rm -rf "$dir"
    return 0
  fi
  rm -rf "$dir"
  return 1
}

# bootstrap "building WHAT" NAME PACKAGES [docker import --change ...]: builds the image NAME with
# rootfs_import, showing one progress line that begins with the first argument; the output goes to
# a log file, whose last lines are shown when the build fails.
bootstrap() {
  local what=$1 name=$2 out; shift 2
  out=$(mktemp "${TMPDIR:-/tmp}/faaspot-image-XXXXXX.log")
  printf 'images: %s %s (about a minute; log: %s) ... ' "$what" "$name" "$out" >&2
  if rootfs_import "$name" "$@" >"$out" 2>&1; then
    echo done >&2
    return 0
  fi
  echo failed >&2
  log "the last lines of $out:"
  tail -n 30 "$out" | sed 's/^/    /' >&2
  return 1
}

base() {
  if have_image "$UPSTREAM_BASE"; then echo "$UPSTREAM_BASE"; return; fi
  if [ "$UPSTREAM_BASE" = "python:3.12-slim" ] && timeout 60 docker pull -q "$UPSTREAM_BASE" >/dev/null 2>&1; then
    echo "$UPSTREAM_BASE"; return
  fi
  if ! have_image "$BASE_LOCAL"; then
    bootstrap "$UPSTREAM_BASE cannot be pulled; building the base image" "$BASE_LOCAL" python3,python3-pip,ca-certificates --change 'CMD ["python3"]'
  fi
  echo "$BASE_LOCAL"
}

redis() {
  have_image "$REDIS_LOCAL" && return
  bootstrap "building the test Redis image" "$REDIS_LOCAL" redis-server \
    --change 'CMD ["redis-server","--protected-mode","no","--save","","--appendonly","no"]' \
    --change 'EXPOSE 6379'
}

case "${1:-all}" in
  base) base ;;
  redis) redis ;;
  all) base >/dev/null; redis ;;
  *) echo "usage: $0 base|redis|all" >&2; exit 2 ;;
esac
