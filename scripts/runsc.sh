#!/usr/bin/env bash
# Makes gVisor available to the local Docker engine as the runtime "runsc", for
# FAASPOT_RUNTIME=runsc and the integration tests that run under it:
#   - installs Debian's runsc when it is missing;
#   - adds {"runtimes": {"runsc": ...}} to the engine's daemon.json (keeping everything else in it)
#     and asks the engine to reload it (SIGHUP: dockerd reloads its runtimes without a restart).
# Does nothing when the engine already lists a runsc runtime. The ptrace platform is the one that
# works on this machine (no KVM); see the README's security section for what it costs.
set -euo pipefail

CONF=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
PIDFILE=${DOCKER_PIDFILE:-/var/run/docker.pid}

log() { echo "runsc: $*" >&2; }

registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

if registered; then
  exit 0
fi
if ! command -v runsc >/dev/null 2>&1; then
  log "installing Debian's runsc"
  apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >&2
fi
bin=$(command -v runsc)
log "registering $bin with the engine in $CONF"
mkdir -p "$(dirname "$CONF")"
[ -f "$CONF" ] && cp "$CONF" "$CONF.faaspot-backup"
python3 - "$CONF" "$bin" <<'EOF'
import json, os, sys
path, binary = sys.argv[1], sys.argv[2]
conf = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        conf = json.load(f)
conf.setdefault("runtimes", {})["runsc"] = {"path": binary, "runtimeArgs": ["--platform=ptrace", "--network=none"]}
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(conf, f, indent=2)
os.replace(tmp, path)
EOF
if [ -s "$PIDFILE" ]; then
  kill -HUP "$(cat "$PIDFILE")"
else
  log "no $PIDFILE: restart the engine to load the runtime"
  exit 1
fi
for _ in $(seq 1 30); do
  registered && { log "the engine lists runsc"; exit 0; }
  sleep 1
done
log "the engine did not load the runtime; its log says why"
exit 1
