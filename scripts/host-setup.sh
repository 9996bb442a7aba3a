#!/usr/bin/env bash
# Prepare a fresh Debian 12 host for the podman lab: packages and podman settings.
# Idempotent; run as root. Touches only apt packages and /etc/containers/containers.conf.
set -euo pipefail
need=(podman runc debootstrap iproute2 python3-venv nftables cluster-glue)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo ">> installing host packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
conf=/etc/containers/containers.conf
marker="# hakit.heartbeat lab settings"
if ! grep -qF "$marker" "$conf" 2>/dev/null; then
  echo ">> configuring podman ($conf): runc runtime, default ulimits"
  mkdir -p /etc/containers
  # crun rejects this host's hybrid cgroups; raising rlimits is not permitted here.
  if [ -s "$conf" ] && grep -q '^\[containers\]' "$conf"; then
    echo "$conf already has its own [containers]/[engine] tables; please add runtime=\"runc\" and default_ulimits by hand" >&2
    exit 1
  fi
  cat >>"$conf" <<'CONF'
# hakit.heartbeat lab settings
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
fi
