#!/usr/bin/env bash
# The podman lab, a thin wrapper around the playbooks (inventory: inventories/lab, see ansible.cfg).
#   lab.sh up     create network + containers, deploy playbooks/site.yml, run the four-case drill
#                 (report in build/lab-report.md); the cluster is left running.
#   lab.sh down   remove the lab's containers and network.
# Image: HAKIT_IMAGE_BOOKWORM (default localhost/hakit-debian:bookworm). Extra arguments go to
# ansible-playbook (e.g. -v, -e lab_drill_graceful=false).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export ANSIBLE_CONFIG="$root/ansible.cfg"
# one line per task result and readable multi-line messages (the drill's report)
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml ANSIBLE_DISPLAY_SKIPPED_HOSTS=false
playbook=${ANSIBLE_PLAYBOOK:-$root/.venv/bin/ansible-playbook}
inventory=$root/inventories/lab/hosts.yml

step() { # step <title> <playbook> [args...]: run one playbook, say how long it took
  local title=$1 started=$SECONDS
  shift
  echo ">> $title"
  "$playbook" -i "$inventory" "$@"
  echo ">> $title: done in $((SECONDS - started)) s"
}

case ${1:-} in
  up)
    shift
    step "lab: network and containers" playbooks/lab_create.yml "$@"
    step "lab: deploy playbooks/site.yml" playbooks/site.yml "$@"
    step "lab: four-case drill" playbooks/drill.yml "$@"
    echo ">> lab up in ${SECONDS} s; report: build/lab-report.md; the cluster stays up:"
    echo "   podman exec -it hakit-lab-web1 bash    |    make lab-down"
    ;;
  down)
    shift
    step "lab: remove containers and network" playbooks/lab_destroy.yml "$@"
    ;;
  *)
    echo "usage: $0 up|down [ansible-playbook args]" >&2
    exit 2
    ;;
esac
