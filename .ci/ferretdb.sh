#!/usr/bin/env bash
# FerretDB for the MongoDB store's tests: a MongoDB-compatible server on its
# SQLite backend, built from source with Go (no image can be pulled here).
#
#   bash .ci/ferretdb.sh install   builds the pinned version once; skipped when that binary is there
#   eval "$(bash .ci/ferretdb.sh start)"
#                                  installs if needed, starts one on 127.0.0.1 on a free port in a
#                                  temporary directory, waits until it answers, prints the exports
#                                  (MONGODB_URI, FERRETDB_PID, FERRETDB_DIR)
#   bash .ci/ferretdb.sh stop      stops the one FERRETDB_PID names and removes FERRETDB_DIR
#
# The binary lives in CHANGEGATE_TOOLS_DIR (default: the user's cache directory),
# and Go keeps its module and build caches where it always does, so a second run on
# the same machine reuses both: a cold build takes minutes on two cores, a warm one none.
set -euo pipefail

VERSION=v1.24.2
TOOLS_DIR="${CHANGEGATE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/changegate}"
BIN_DIR="$TOOLS_DIR/ferretdb-$VERSION"
BIN="$BIN_DIR/ferretdb"

log() { echo "ferretdb.sh: $*" >&2; }

installed() {
  # Read whole, not piped into grep -q: an early exit of grep fails the pipe (pipefail).
  [[ -x "$BIN" && "$("$BIN" --version 2>/dev/null)" == *"version: $VERSION"* ]]
}

install() {
  if installed; then
    log "FerretDB $VERSION already installed at $BIN"
    return
  fi
  command -v go >/dev/null || { log "Go is needed to build FerretDB (go install); put it on PATH"; exit 1; }
  mkdir -p "$BIN_DIR"
  log "building FerretDB $VERSION with $(go version | cut -d' ' -f3) (minutes on a cold Go cache)"
  local started=$SECONDS
  GOBIN="$BIN_DIR/go-install" GOFLAGS=-mod=mod go install "github.com/FerretDB/FerretDB/cmd/ferretdb@$VERSION" >&2
  # `go install` of a tagged module leaves out the generated build/version/version.txt, and a binary
  # without it panics at start. So the source go just fetched is copied, given that file, and built
  # again, which reuses the build cache the install filled (seconds).
  local src work
  src="$(go list -m -mod=mod -f '{{.Dir}}' "github.com/FerretDB/FerretDB@$VERSION" 2>/dev/null || true)"
  [[ -n "$src" && -d "$src" ]] || src="$(go env GOMODCACHE)/github.com/!ferret!d!b/!ferret!d!b@$VERSION"
  work="$(mktemp -d "${TMPDIR:-/tmp}/changegate-ferretdb-src-XXXXXX")"
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$VERSION" >"$work/build/version/version.txt"
  (cd "$work" && go build -o "$BIN" ./cmd/ferretdb) >&2
  rm -rf "$work"
  installed || { log "the built FerretDB does not report version $VERSION"; exit 1; }
  log "built in $((SECONDS - started)) s"
}

# A port nothing listens on now; FerretDB failing to bind it (a race) is retried by start.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  log "found no free port"
  exit 1
}

start() {
  install
  local dir port pid
  dir="$(mktemp -d "${TMPDIR:-/tmp}/changegate-ferretdb-XXXXXX")"
  for attempt in 1 2 3; do
    port="$(free_port)"
    # nohup, output to a file: the server outlives this script and the shell that evals its output.
    nohup "$BIN" --handler=sqlite --sqlite-url="file:$dir/" --state-dir="$dir" --telemetry=disable \
      --listen-addr="127.0.0.1:$port" --debug-addr="127.0.0.1:$(free_port)" --log-level=warn >"$dir/ferretdb.log" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 1 150); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "FerretDB $VERSION answers on 127.0.0.1:$port (pid $pid, data in $dir)"
        echo "export MONGODB_URI='mongodb://127.0.0.1:$port/'"
        echo "export FERRETDB_PID=$pid"
        echo "export FERRETDB_DIR='$dir'"
        return
      fi
      sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    log "attempt $attempt: FerretDB did not answer on port $port; its log:"
    cat "$dir/ferretdb.log" >&2 || true
  done
  rm -rf "$dir"
  exit 1
}

stop() {
  if [[ -n "${FERRETDB_PID:-}" ]] && kill -0 "$FERRETDB_PID" 2>/dev/null; then
    kill "$FERRETDB_PID"
    for _ in $(seq 1 50); do kill -0 "$FERRETDB_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  if [[ -n "${FERRETDB_DIR:-}" && "$FERRETDB_DIR" == *changegate-ferretdb-* ]]; then rm -rf "$FERRETDB_DIR"; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  path) echo "$BIN" ;;
  *) echo "usage: $0 install|start|stop|path" >&2; exit 2 ;;
esac
