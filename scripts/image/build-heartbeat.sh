#!/usr/bin/env bash
# Build the interop node image (lab node image + Debian's heartbeat 3.0.6 + tcpdump, nftables), once; cached.
# Usage: build-heartbeat.sh [bookworm]. HAKIT_REBUILD=1 rebuilds (so does an edited Containerfile.heartbeat).
# The base node image is built first if missing (scripts/image/build.sh). HAKIT_IMAGE_HEARTBEAT overrides
# the resulting tag.
set -euo pipefail
suite=${1:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
image=${HAKIT_IMAGE_HEARTBEAT:-localhost/hakit-heartbeat:${suite}}
base_var="HAKIT_IMAGE_${suite^^}"
base=${!base_var:-localhost/hakit-debian:${suite}}

# The image remembers the recipe it was built from: an edited Containerfile rebuilds it.
recipe=$(sha256sum "$here/Containerfile.heartbeat" | cut -c1-16)
built=$(podman image inspect --format '{{index .Labels "io.hakit.recipe"}}' "$image" 2>/dev/null || true)
if [ "$built" = "$recipe" ] && [ -z "${HAKIT_REBUILD:-}" ]; then
  echo ">> image $image present (HAKIT_REBUILD=1 rebuilds)"
  exit 0
fi
podman image exists "$base" || bash "$here/build.sh" "$suite"
echo ">> podman build -> $image (from $base; apt-get install heartbeat)"
podman build -q --build-arg "BASE=$base" --label "io.hakit.recipe=$recipe" -t "$image" -f "$here/Containerfile.heartbeat" "$here" >/dev/null
echo ">> image $image ready"
