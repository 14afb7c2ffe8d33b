#!/usr/bin/env bash
# Builds the changegate image from this checkout.
#   deploy/build-image.sh [--base IMAGE] [--tag TAG] [--stage]
# --base   the base image (default node:24-slim; any glibc Linux with Node 24 as `node`)
# --tag    the image name (default changegate:latest)
# --stage  install the production dependencies here, from the lockfile, and hand them to
#          the build instead of running npm inside it (for a builder that cannot reach a
#          registry, or whose base image has no npm)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
base="node:24-slim"
tag="changegate:latest"
stage=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --stage) stage=1; shift ;;
    *) echo "build-image: unknown argument $1 (use --base IMAGE, --tag TAG, --stage)" >&2; exit 2 ;;
  esac
done

staged="$repo/deploy/.staged"
rm -rf "$staged"
trap 'rm -rf "$staged"' EXIT
if [[ $stage -eq 1 ]]; then
  mkdir -p "$staged"
  cp "$repo/package.json" "$repo/package-lock.json" "$staged/"
  (cd "$staged" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
docker build -f "$repo/deploy/Dockerfile" --build-arg "BASE_IMAGE=$base" -t "$tag" "$repo"
