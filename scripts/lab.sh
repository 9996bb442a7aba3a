#!/usr/bin/env bash
# The podman lab, a thin wrapper around the playbooks (inventory: inventories/lab, see ansible.cfg).
#   lab.sh up     create network + containers, deploy playbooks/site.yml, run the four-case drill
#                 (report in build/lab-report.md); the cluster is left running.
#   lab.sh down   remove the lab's containers and network.
# ENGINE=heartbeat (default: the tutorial's cluster), agent (hbagent on both nodes) or mixed (Heartbeat on
# the primary, hbagent on the other); the report is build/lab-report.md, build/lab-agent-report.md or
# build/lab-mixed-report.md; pacemaker (Corosync + Pacemaker on every node, build/lab-pacemaker-report.md).
# NODES=3 adds web3 (inventories/lab/three-nodes.yml; Pacemaker only, the role's preflight refuses it on the
# others; report build/lab-pacemaker-3nodes-report.md). SPLIT_BRAIN=1 adds a second heartbeat link (eth1), the client as ping node
# and the split-brain cases (partition, uplink, one link of two). Image: HAKIT_IMAGE_BOOKWORM (default
# localhost/hakit-debian:bookworm).
# CONTENT=1 keeps the web root in sync between the nodes (hakit.heartbeat.content_sync, hakit_lab_content) and
# adds the content cases to the drill (replication lag, crash after an edit, failback, switchover, return).
# Extra arguments go to ansible-playbook (e.g. -v, -e lab_drill_graceful=false).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export ANSIBLE_CONFIG="$root/ansible.cfg"
# one line per task result and readable multi-line messages (the drill's report)
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
playbook=${ANSIBLE_PLAYBOOK:-$root/.venv/bin/ansible-playbook}
inventory=(-i "$root/inventories/lab/hosts.yml")
case ${NODES:-2} in
  2 | '') ;;
  3) inventory+=(-i "$root/inventories/lab/three-nodes.yml") ;;
  *) echo "NODES must be 2 or 3, not '$NODES'" >&2; exit 2 ;;
esac
engine=${ENGINE:-heartbeat}
# SPLIT_BRAIN=1: a second heartbeat link (eth1), the client as ping node, and the split-brain cases
lab_vars=(-e "hakit_lab_engine=$engine")
if [ -n "${SPLIT_BRAIN:-}" ]; then
  lab_vars+=(-e hakit_lab_split_brain=true -e '{"lab_drill_split_brain": ["partition", "uplink", "links"]}')
fi
case $engine in
  heartbeat | agent | mixed | pacemaker) ;;
  *) echo "ENGINE must be heartbeat, agent, mixed or pacemaker, not '$engine'" >&2; exit 2 ;;
esac

content=()
case ${CONTENT:-0} in
  0 | '') ;;
  1) content=(-e hakit_lab_content=true) ;;
  *) echo "CONTENT must be 0 or 1, not '$CONTENT'" >&2; exit 2 ;;
esac
lab_vars+=("${content[@]}")

step() { # step <title> <playbook> [args...]: run one playbook, say how long it took
  local title=$1 started=$SECONDS
  shift
  echo ">> $title"
  "$playbook" "${inventory[@]}" "$@"
  echo ">> $title: done in $((SECONDS - started)) s"
}

case ${1:-} in
  up)
    shift
    step "lab: network and containers" playbooks/lab_create.yml "${lab_vars[@]}" "$@"
    step "lab: deploy playbooks/site.yml (engine: $engine)" playbooks/site.yml "${lab_vars[@]}" "$@"
    step "lab: four-case drill (engine: $engine)" playbooks/drill.yml "${lab_vars[@]}" "$@"
    report=build/lab-report.md
    [ "$engine" = heartbeat ] || report=build/lab-$engine-report.md
    [ "${NODES:-2}" != 3 ] || report=${report%-report.md}-3nodes-report.md
    [ ${#content[@]} = 0 ] || echo ">> content cases in $report, every measured lag in ${report%-report.md}-content-lag.json"
    echo ">> lab up in ${SECONDS} s; report: $report; the cluster stays up:"
    echo "   podman exec -it hakit-lab-web1 bash    |    make lab-down"
    ;;
  down)
    shift
    # whatever NODES the lab was made with
    inventory=(-i "$root/inventories/lab/hosts.yml" -i "$root/inventories/lab/three-nodes.yml")
    step "lab: remove containers and network" playbooks/lab_destroy.yml "$@"
    ;;
  *)
    echo "usage: $0 up|down [ansible-playbook args]" >&2
    exit 2
    ;;
esac
