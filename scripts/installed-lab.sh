#!/usr/bin/env bash
# The collection as a user gets it: built like Galaxy would, installed with `ansible-galaxy collection
# install` into a throw-away path, and used from an empty working directory with a user's own inventory
# (nodes alpha/bravo, client probe, subnet 10.213.17.0/24, VIP .77, ucast media, a sha1 key made up
# here, the agent engine). No checkout path, no dist/, no make: the playbooks are hakit.heartbeat.*.
#   lab (create, converge, drill cases 1, 3, 4) -> site again (must change nothing)
# and nothing may be written into the installed collection. Containers/network: io.hakit.lab=installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/hakit-installed.XXXXXX)
keep=${HAKIT_KEEP_LAB:-}
cleanup() {
  [ -n "$keep" ] || (cd "$tmp/work" 2>/dev/null && ansible-playbook -i inventory.yml hakit.heartbeat.lab_destroy >/dev/null 2>&1) || true
  rm -rf "$tmp"
}
trap cleanup EXIT
bash "$repo/scripts/lab-clean.sh" installed

echo ">> build and install the collection (offline) into $tmp/collections"
ansible-galaxy collection build "$repo" --output-path "$tmp/dist" --force >/dev/null
# a config that knows only the installed copy (plus the venv's bundled dependency collections)
printf '[defaults]\ncollections_path = %s\nstdout_callback = ansible.builtin.default\ncallback_result_format = yaml\n' \
  "$tmp/collections" >"$tmp/ansible.cfg"
export ANSIBLE_CONFIG="$tmp/ansible.cfg" ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
unset ANSIBLE_COLLECTIONS_PATH
ansible-galaxy collection install --offline --no-deps -p "$tmp/collections" "$tmp"/dist/hakit-heartbeat-*.tar.gz >/dev/null
installed="$tmp/collections/ansible_collections/hakit/heartbeat"
test ! -e "$installed/dist" || { echo "the installed collection carries dist/" >&2; exit 1; }
touch "$tmp/stamp"

mkdir -p "$tmp/work"
cd "$tmp/work"
key=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
cat >inventory.yml <<INVENTORY
all:
  vars:
    ansible_connection: containers.podman.podman
    ansible_remote_tmp: /root/.ansible/tmp
    hakit_lab_suite: installed
    hakit_lab_network: hakit-installed
    hakit_lab_subnet: 10.213.17.0/24
    hakit_lab_vip: 10.213.17.77
    hakit_lab_image: ${HAKIT_IMAGE_BOOKWORM:-localhost/hakit-debian:bookworm}
    # the checkout's apt cache and its download seed (make images), not a new one in this empty directory
    hakit_lab_cache_dir: $repo/.cache/apt
  children:
    heartbeat_nodes:
      vars:
        heartbeat_engine: agent
        heartbeat_node_address: "{{ hakit_lab_address }}"
        heartbeat_keepalive: 1
        heartbeat_deadtime: 5
        heartbeat_media:
          - {type: ucast, interface: eth0, peers: [10.213.17.21, 10.213.17.22]}
        heartbeat_auth_method: sha1
        heartbeat_auth_index: 7
        heartbeat_auth_key: $key
        heartbeat_resource_groups:
          - node: alpha
            resources:
              - {type: IPaddr2, address: 10.213.17.77, cidr: 24, interface: eth0}
              - {type: service, name: apache2}
        demo_web_primary_text: alpha serves
        demo_web_secondary_text: bravo serves
      hosts:
        alpha: {ansible_host: hakit-installed-alpha, hakit_lab_address: 10.213.17.21}
        bravo: {ansible_host: hakit-installed-bravo, hakit_lab_address: 10.213.17.22}
    lab_clients:
      hosts:
        probe: {ansible_host: hakit-installed-probe, hakit_lab_address: 10.213.17.99}
INVENTORY

run() { # run <title> <playbook> [args]: from the installed copy, output kept in the work directory
  local title=$1 log=$tmp/work/$2.log started=$SECONDS
  shift
  echo ">> $title"
  if ! ansible-playbook -i inventory.yml "hakit.heartbeat.$@" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "failed: $title (log: $log)" >&2
    exit 1
  fi
  echo "   done in $((SECONDS - started)) s"
}
run "the lab in one command: create, deploy the agent engine, drill cases 1, 3, 4 (hakit.heartbeat.lab)" \
  lab -e '{"lab_drill_cases": [1, 3, 4], "lab_drill_graceful": false}'
run "deploy again: nothing may change (hakit.heartbeat.site)" site
if grep -E '^(alpha|bravo) .*changed=[1-9]' site.log; then
  grep -B3 -E '^changed:' site.log | sed -n 1,40p >&2
  echo "the second converge from the installed copy changed something" >&2
  exit 1
fi
report=$tmp/work/build/installed-agent-report.md
test -s "$report" || { echo "no drill report in the working directory ($report)" >&2; exit 1; }
written=$(find "$installed" -newer "$tmp/stamp" -not -path '*/__pycache__*' | sed -n 1,5p)
[ -z "$written" ] || { echo "written into the installed collection: $written" >&2; exit 1; }
sed -n '1,/^$/p;/^| case/,/^$/p' "$report" | sed -n 1,8p
echo ">> installed-copy lab OK: report $report (changed=0 on the second converge)"
if [ -n "${HAKIT_INSTALLED_REPORT:-}" ]; then cp "$report" "$HAKIT_INSTALLED_REPORT"; fi
