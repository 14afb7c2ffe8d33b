#!/usr/bin/env bash
# The deployment assets, built and run here: the image (deploy/Dockerfile on a local
# base, since no image can be pulled) started read-only and non-root against a
# ServiceNow simulator, checked on /healthz, /readyz, its own HEALTHCHECK and a
# mirrored change; the compose file's changegate service started the same way; the
# Kubernetes manifests validated against the API schema of a pinned Kubernetes version.
# Prints the image size. Needs root (installs docker.io and starts dockerd if absent).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
k8s_version=1.34.0
validator_version=1.37.0
venv="$repo/.ci/.venv"
tag="changegate:ci"
token="deploy-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"

say() { echo "deploy-check: $*"; }

# --- the Kubernetes manifests, against the pinned API schema (offline: the validator ships the schemas)
if [[ ! -x "$venv/bin/kubernetes-validate" ]] || [[ "$("$venv/bin/pip" show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')" != "$validator_version" ]]; then
  [[ -x "$venv/bin/pip" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$validator_version"
fi
"$venv/bin/kubernetes-validate" --strict --kubernetes-version "$k8s_version" deploy/kubernetes/*.yaml
say "kubernetes manifests valid against Kubernetes $k8s_version"

# --- a Docker engine
if ! command -v dockerd >/dev/null; then apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; fi
if ! docker info >/dev/null 2>&1; then
  (dockerd >/tmp/changegate-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { cat /tmp/changegate-dockerd.log >&2; say "dockerd did not start"; exit 1; }
fi
command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }

# --- the image
base="$(bash .ci/base-image.sh)"
bash deploy/build-image.sh --base "$base" --tag "$tag" --stage >/dev/null
say "image $tag built on $base: $(docker image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}')"

work="$(mktemp -d)"
sim_pid=""
containers=()
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  if [[ -f "$work/compose.ci.yaml" ]]; then docker-compose -p changegate-ci -f deploy/compose.yaml -f "$work/compose.ci.yaml" down -v >/dev/null 2>&1 || true; fi
  if [[ -n "$sim_pid" ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# --- a ServiceNow simulator on the host (dev dependencies), 60 changes
"$repo/node_modules/.bin/node" test/bench/serve-servicenow.ts 60 0 >"$work/sim.json" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 60); do [[ -s "$work/sim.json" ]] && break; sleep 0.5; done
sim_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/sim.json")"
key="$(curl -fsS -u admin:admin "$sim_url/api/now/table/change_request?sysparm_limit=1&sysparm_fields=number" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][0]["number"])')"

config_for() { # port
  cat <<YAML
store: { kind: sqlite, path: /app/data/changegate.db }
server: { listen: "127.0.0.1:$1" }
log: { level: warn }
instances:
  - { id: sn-ci, system: servicenow, baseUrl: "$sim_url", auth: { kind: basic, username: "\${SN_USER}", password: "\${SN_PASSWORD}" }, pageSize: 50 }
YAML
}

# Waits for /healthz, /readyz and the change in the mirror on the given port.
check_serving() { # what port
  local what="$1" base="http://127.0.0.1:$2"
  for _ in $(seq 1 120); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "$base/healthz" >/dev/null || { say "$what: /healthz never answered"; return 1; }
  for _ in $(seq 1 120); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "$base/readyz" | grep -q '"status":"ready"' || { say "$what: /readyz is not ready"; return 1; }
  for _ in $(seq 1 120); do
    if curl -fsS -H "Authorization: Bearer $token" "$base/v1/changes/$key" 2>/dev/null | grep -q "\"key\":\"$key\""; then
      say "$what: healthy, ready, $key mirrored"; return 0
    fi
    sleep 0.5
  done
  say "$what: $key never reached the mirror"; return 1
}

# --- the image, as a hardened runtime would start it
port="$(free_port)"
config_for "$port" >"$work/changegate.yaml"
mkdir -p "$work/data" && chown 1000:1000 "$work/data"
cid="$(docker run -d --network host --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  --health-interval 2s --health-start-period 1s \
  -e SN_USER=admin -e SN_PASSWORD=admin -e "CHANGEGATE_API_TOKENS=$token" -e "CHANGEGATE_LISTEN=127.0.0.1:$port" \
  -v "$work/changegate.yaml:/etc/changegate/changegate.yaml:ro" -v "$work/data:/app/data" "$tag")"
containers+=("$cid")
if ! check_serving "docker run" "$port"; then docker logs "$cid" >&2; exit 1; fi
[[ "$(docker exec "$cid" id -u)" != "0" ]] || { say "the container runs as root"; exit 1; }
for _ in $(seq 1 30); do [[ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" == healthy ]] && break; sleep 1; done
[[ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" == healthy ]] || { say "the image's HEALTHCHECK never passed"; docker inspect -f '{{json .State.Health}}' "$cid" >&2; exit 1; }
docker stop -t 20 "$cid" >/dev/null
[[ "$(docker inspect -f '{{.State.ExitCode}}' "$cid")" == 0 ]] || { say "SIGTERM did not end the service cleanly"; docker logs "$cid" >&2; exit 1; }
say "docker run: non-root, read-only root, HEALTHCHECK healthy, clean stop on SIGTERM"

# --- the compose file's changegate service (host network to reach the simulator)
port="$(free_port)"
config_for "$port" >"$work/compose-changegate.yaml"
printf 'services:\n  changegate:\n    network_mode: host\n    environment:\n      CHANGEGATE_LISTEN: "127.0.0.1:%s"\n' "$port" >"$work/compose.ci.yaml"
export CHANGEGATE_IMAGE="$tag" CHANGEGATE_CONFIG_FILE="$work/compose-changegate.yaml" SN_USER=admin SN_PASSWORD=admin CHANGEGATE_API_TOKENS="$token" CHANGEGATE_PORT="$(free_port)"
# `run` publishes no ports (host networking refuses port bindings) and keeps everything else of the service.
docker-compose -p changegate-ci -f deploy/compose.yaml -f "$work/compose.ci.yaml" run -d --name changegate-ci-compose changegate >/dev/null 2>"$work/compose.log" || { cat "$work/compose.log" >&2; exit 1; }
containers+=(changegate-ci-compose)
if ! check_serving "docker-compose" "$port"; then docker logs changegate-ci-compose >&2; exit 1; fi
[[ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}' changegate-ci-compose)" == "true 1000:1000" ]] || { say "the compose service is not read-only and non-root"; exit 1; }
say "all deployment checks passed"
