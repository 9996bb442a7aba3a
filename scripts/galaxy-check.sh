#!/usr/bin/env bash
# Build the collection as Galaxy would, install it into a throw-away path, and syntax-check its
# playbooks against the INSTALLED copy (not the checkout), as a user of `ansible-galaxy` would run them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/hakit-galaxy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo ">> ansible-galaxy collection build"
ansible-galaxy collection build "$repo" --output-path "$tmp/dist" --force >/dev/null
tarball=$(ls "$tmp"/dist/hakit-heartbeat-*.tar.gz)
echo "   $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
# What must (and must not) ship.
listing=$(tar -tzf "$tarball")
for must in MANIFEST.json meta/runtime.yml roles/heartbeat/tasks/main.yml \
            plugins/module_utils/heartbeat_config.py hbagent/__main__.py playbooks/site.yml; do
  grep -qx "$must" <<<"$listing" || { echo "missing from the build: $must" >&2; exit 1; }
done
for mustnot in tests/ molecule/ inventories/ .venv/ .collections/; do
  if grep -q "^$mustnot" <<<"$listing"; then echo "shipped by mistake: $mustnot" >&2; exit 1; fi
done
# From here on, work in an empty directory with a config that knows only the installed copy (plus
# the venv's bundled collections, which stand in for the Galaxy dependencies) - not the checkout.
cd "$tmp"
printf '[defaults]\ncollections_path = %s\n' "$tmp/collections" >"$tmp/ansible.cfg"
export ANSIBLE_CONFIG="$tmp/ansible.cfg"
echo ">> ansible-galaxy collection install (offline, into a temporary path)"
ansible-galaxy collection install --offline --no-deps -p "$tmp/collections" "$tarball" >/dev/null
installed="$tmp/collections/ansible_collections/hakit/heartbeat"
test -f "$installed/MANIFEST.json" || { echo "install did not land in $installed" >&2; exit 1; }
for pb in $(cd "$installed/playbooks" && ls ./*.yml | sed 's|^\./||;s|\.yml$||'); do
  echo ">> syntax-check hakit.heartbeat.$pb (installed copy)"
  ansible-playbook -i localhost, --syntax-check "hakit.heartbeat.$pb" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
done
echo ">> galaxy build/install/syntax-check OK"
