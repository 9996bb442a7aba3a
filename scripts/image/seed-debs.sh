#!/usr/bin/env bash
# Download, once per node image, the .debs the collection's roles install, into .cache/apt/_seed/<suite>:
# apt-get --download-only in a throw-away container of that image, from the mirror the image already uses.
# playbooks/lab_create.yml hard-links them into each node's own apt cache, so that a `make test` that builds a
# dozen clusters downloads each package once rather than once per node (about 260 MB otherwise, which a slow
# mirror turns into minutes). Only a speed-up: a missing or stale seed means apt downloads.
# Usage: seed-debs.sh <bookworm|trixie>. Skips a seed already complete (HAKIT_RESEED=1 downloads again).
set -euo pipefail
suite=${1:?suite (bookworm|trixie)}
repo=$(cd "$(dirname "$0")/../.." && pwd)
seed="$repo/.cache/apt/_seed/$suite"
image="localhost/hakit-debian:$suite"

if [ -e "$seed/.complete" ] && [ -z "${HAKIT_RESEED:-}" ]; then
  echo ">> apt seed for $suite present ($(find "$seed" -name '*.deb' | wc -l) .debs; HAKIT_RESEED=1 downloads again)"
  exit 0
fi
mkdir -p "$seed"
rm -f "$seed/.complete"
started=$SECONDS
# One resolution per role, each with the role's own recommends policy (heartbeat, content_sync: none; demo_web:
# apt's default); the set may change, the roles' own apt tasks stay the reference.
downloads=(
  "--no-install-recommends heartbeat net-tools cluster-glue"
  "--no-install-recommends corosync pacemaker crmsh resource-agents"
  "--no-install-recommends lsyncd rsync openssh-server openssh-client"
  "--no-install-recommends nftables"
  "apache2"
)
script="apt-get update -qq"
for d in "${downloads[@]}"; do
  script+=" && apt-get install -y -qq --download-only $d >/dev/null"
done
if podman run --rm --replace --name "hakit-apt-seed-$suite" --label io.hakit.lab=seed \
    -v "$seed:/var/cache/apt/archives" "$image" bash -c "$script" >"$seed/../$suite.log" 2>&1; then
  touch "$seed/.complete"
  echo ">> apt seed for $suite: $(find "$seed" -name '*.deb' | wc -l) .debs in $((SECONDS - started)) s"
else
  # not a failure of the suite: the nodes download what they need themselves
  echo ">> apt seed for $suite incomplete (log .cache/apt/$suite.log); nodes will download what is missing"
  tail -n 5 "$seed/../$suite.log"
fi
