#!/usr/bin/env bash
# Remove what this project's labs and tests created, and nothing else: podman containers and networks
# whose io.hakit.lab label is one of the given suites, and network namespaces named hakit-<prefix>-*.
#   lab-clean.sh SUITE...      e.g. lab-clean.sh lab   |   lab-clean.sh mol-bookworm interop
#   lab-clean.sh --tests       every suite `make test` owns (never the lab or a bench run)
#   lab-clean.sh --all         everything labelled io.hakit.lab and every hakit-* namespace
# A suite is a label value; `netns:PREFIX` names a namespace prefix instead (netns:nt = hakit-nt-*).
# Safe on half-dead state; always exits 0.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=suites.sh
. "$here/suites.sh"

all=false
suites=()
for arg in "$@"; do
  case $arg in
    --all) all=true ;;
    --tests) read -ra more <<<"$HAKIT_TEST_SUITES"; suites+=("${more[@]}") ;;
    *) suites+=("$arg") ;;
  esac
done
if ! $all && ((${#suites[@]} == 0)); then
  echo "usage: $0 SUITE... | --tests | --all" >&2
  exit 0
fi

remove_label() { # remove_label FILTER: containers, then networks, carrying that label filter
  local filter=$1 ids net
  ids=$(podman ps -aq --filter "$filter" 2>/dev/null)
  if [ -n "$ids" ]; then
    echo ">> removing containers ($filter): $(podman ps -a --filter "$filter" --format '{{.Names}}' | tr '\n' ' ')"
    # shellcheck disable=SC2086
    podman rm -f -t 0 $ids >/dev/null 2>&1 || podman rm -f $ids >/dev/null 2>&1 || true
  fi
  for net in $(podman network ls -q --filter "$filter" 2>/dev/null); do
    echo ">> removing network $net"
    podman network rm -f "$net" >/dev/null 2>&1 || true
  done
}

remove_namespaces() { # remove_namespaces REGEX
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "$1" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
  done
}

if $all; then
  command -v podman >/dev/null && remove_label label=io.hakit.lab
  remove_namespaces '^hakit-'
  exit 0
fi
for suite in "${suites[@]}"; do
  case $suite in
    netns:*) remove_namespaces "^hakit-${suite#netns:}-" ;;
    *) command -v podman >/dev/null && remove_label "label=io.hakit.lab=$suite" ;;
  esac
done
exit 0
