#!/usr/bin/env bash
# Build the lab node image for a Debian suite, locally, without any registry:
#   debootstrap -> podman import (rootfs) -> podman build (systemd, python3).
# Usage: build.sh <bookworm|trixie>. Skips work already done (images are cached).
# HAKIT_BASE_<SUITE>=debian:<suite> uses a registry image as base instead of debootstrap.
set -euo pipefail
suite=${1:?suite (bookworm|trixie)}
here=$(cd "$(dirname "$0")" && pwd)
node_image="localhost/hakit-debian:${suite}"
rootfs_image="localhost/hakit-debian-rootfs:${suite}"
base_var="HAKIT_BASE_${suite^^}"
base=${!base_var:-$rootfs_image}

if podman image exists "$node_image" && [ -z "${HAKIT_REBUILD:-}" ]; then
  echo ">> image $node_image present (HAKIT_REBUILD=1 rebuilds)"
  exit 0
fi

# The Debian mirror this host already uses (never hard-coded in the repo).
host_mirror() {
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        | grep -v -- '-security' | grep -oE '(https?|file)://[^ ]+' | sed -n 1p)
  echo "${uri%/}"
}

if [ "$base" = "$rootfs_image" ] && ! podman image exists "$rootfs_image"; then
  mirror=$(host_mirror)
  [ -n "$mirror" ] || { echo "no Debian mirror found in the host's apt sources" >&2; exit 1; }
  work=$(mktemp -d /var/tmp/hakit-rootfs.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  echo ">> debootstrap $suite (minbase) from the host's mirror; a few minutes"
  debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  echo ">> podman import -> $rootfs_image"
  tar -C "$work/root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$rootfs_image" >/dev/null
fi

echo ">> podman build -> $node_image (from $base)"
podman build -q --build-arg "BASE=$base" -t "$node_image" -f "$here/Containerfile" "$here" >/dev/null
echo ">> image $node_image ready"
