#!/usr/bin/env bash
# The API contract run: starts changegate (the built-in demo, on a free loopback
# port, with an API token) and lets schemathesis send it generated requests from
# GET /openapi.json with every check on. Fails on any server error or any answer
# the document does not describe. Usage: .ci/api-contract.sh [max examples per operation]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
examples="${1:-150}"
version=4.32.5
venv="$repo/.ci/.venv"

if [[ ! -x "$venv/bin/schemathesis" ]] || [[ "$("$venv/bin/schemathesis" --version)" != *"$version"* ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
token="contract-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The demo's store goes under the temporary directory (the working directory), not the checkout.
(cd "$work" && exec env CHANGEGATE_LISTEN="127.0.0.1:$port" CHANGEGATE_API_TOKENS="$token" \
  "$repo/node_modules/.bin/node" --max-semi-space-size=8 "$repo/src/main.ts" serve >"$work/serve.log" 2>&1) &
server_pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/serve.log" >&2; echo "api-contract: changegate did not start" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "$base/readyz" >/dev/null

status=0
(cd "$work" && "$venv/bin/schemathesis" --config-file "$repo/.ci/schemathesis.toml" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --max-examples "$examples" \
  --workers 1 \
  --seed 20261205 \
  --no-color \
  --report-dir "$work/report") || status=$?
if [[ $status -ne 0 ]] && grep -q '"level":50' "$work/serve.log"; then
  echo "--- changegate errors during the run ---" >&2
  grep '"level":50' "$work/serve.log" | tail -20 >&2
fi
exit "$status"
