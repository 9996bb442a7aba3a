#!/usr/bin/env bash
# Remove everything this project's labs and tests created, and nothing else: podman containers and
# networks labelled io.hakit.lab, and network namespaces named hakit-*. Safe on half-dead state.
set -uo pipefail
ids=$(podman ps -aq --filter label=io.hakit.lab 2>/dev/null)
if [ -n "$ids" ]; then
  echo ">> removing lab containers: $(podman ps -a --filter label=io.hakit.lab --format '{{.Names}}' | tr '\n' ' ')"
  # shellcheck disable=SC2086
  podman rm -f -t 0 $ids >/dev/null 2>&1 || podman rm -f $ids >/dev/null 2>&1 || true
fi
for net in $(podman network ls -q --filter label=io.hakit.lab 2>/dev/null); do
  echo ">> removing lab network $net"
  podman network rm -f "$net" >/dev/null 2>&1 || true
done
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^hakit-' || true); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
done
exit 0
