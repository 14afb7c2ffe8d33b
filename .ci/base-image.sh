#!/usr/bin/env bash
# Makes a local base image for deploy/Dockerfile where none can be pulled: a minimal
# Debian root (debootstrap, from the mirror apt already uses) plus the Node 24 binary
# the project pins as a devDependency. Prints the image name. Reuses the image when it
# exists for the same Node version.
#   .ci/base-image.sh            (after npm ci)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
node_bin="$(readlink -f "$repo/node_modules/.bin/node")"
version="$("$node_bin" --version)"
name="changegate-base:bookworm-node${version#v}"
if docker image inspect "$name" >/dev/null 2>&1; then echo "$name"; exit 0; fi

command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
# The first Debian archive apt is configured with (deb822 or one-line sources).
mirror="$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed 's/^URIs: *//')"
if [[ -z "$mirror" ]]; then mirror="$(grep -hoE '^deb +[^ ]+' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')"; fi
[[ -n "$mirror" ]] || { echo "base-image: no Debian mirror found in apt's sources" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$name" >/dev/null
echo "$name"
