#!/usr/bin/env bash
# The supported-version matrix, proved: for the oldest ansible-core that meta/runtime.yml claims and for the
# newest on Python 3.12+, in a throw-away venv each (.cache/matrix/), run
#   1. the unit tests (pytest tests/unit),
#   2. a fresh podman cluster (tests/matrix/hosts.yml: network hakit-matrix, io.hakit.lab=matrix),
#      one converge of playbooks/site.yml, then playbooks/preflight_negative.yml and
#      tests/integration/modules.yml (heartbeat_info and switchover on the real cluster),
# and remove the cluster. Legs: scripts/version-matrix.sh [2.17] [2.21] (default both).
#
# ansible-core 2.20+ needs Python 3.12+ on the controller. Debian 12's own python3 is 3.11, so that leg
# uses the first Python 3.12+ it finds (python3.13/python3.12 on PATH, then pyenv's). Without one, the
# leg is SKIPPED with a loud message (exit 0): a Debian 12 controller cannot run ansible-core 2.20+ at
# all, so there is nothing of its own to test; set HAKIT_MATRIX_STRICT=1 to make that a failure.
# The project's machines (and CI) have pyenv's 3.12 and 3.13, so the leg runs there.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
legs=("$@")
[[ ${#legs[@]} -gt 0 ]] || legs=(2.17 2.21)

# leg -> ansible-core pin, node image (2.17 supports target Python up to 3.12: Debian 12 nodes; the newest
# core is tried against Debian 13 nodes, what a Debian 13 controller manages), Python wanted
declare -A CORE=([2.17]=2.17.14 [2.21]=2.21.5)
declare -A IMAGE=([2.17]=${HAKIT_IMAGE_BOOKWORM:-localhost/hakit-debian:bookworm}
                  [2.21]=${HAKIT_IMAGE_TRIXIE:-localhost/hakit-debian:trixie})
PYTEST_PIN=$(grep -E '^pytest==' requirements-dev.txt)
# containers.podman (the lab) comes from the project venv's `ansible` package, as for `make lab`
# (HAKIT_VENV: another venv with it)
podman_collections=$("${HAKIT_VENV:-$repo/.venv}/bin/python" -c 'import ansible_collections.containers.podman as p, os; print(os.path.dirname(os.path.dirname(os.path.dirname(p.__path__[0]))))')

python_for() { # python_for <leg>: the interpreter for that leg's controller, or nothing
  local leg=$1 candidate
  if [[ $leg == 2.17 ]]; then
    # ansible-core 2.17 runs on Python 3.10-3.12: the machine's python3 (3.11 on Debian 12)
    command -v python3
    return
  fi
  for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
}

venv_for() { # venv_for <leg> <python>: a venv with that ansible-core and pytest, made once per pin
  local leg=$1 python=$2 dir=$repo/.cache/matrix/core-$1
  local want="ansible-core==${CORE[$leg]} $PYTEST_PIN $("$python" -V 2>&1)"
  if [[ ! -x $dir/bin/python || $(cat "$dir/.pins" 2>/dev/null) != "$want" ]]; then
    rm -rf "$dir"
    "$python" -m venv "$dir" >&2
    "$dir/bin/pip" -q install --disable-pip-version-check "ansible-core==${CORE[$leg]}" "$PYTEST_PIN" \
      >"$dir.pip.log" 2>&1 || { cat "$dir.pip.log" >&2; return 1; }
    echo "$want" >"$dir/.pins"
  fi
  echo "$dir"
}

step() { # step <leg> <title> <playbook>: run it, log in .cache/matrix/, show its recap (all of the end on failure)
  local leg=$1 title=$2 playbook=$3 started=$SECONDS
  local log=$repo/.cache/matrix/$leg-$(basename "$playbook" .yml).log
  echo ">> [$leg] $title"
  if ! "${PLAY[@]}" "$playbook" >"$log" 2>&1; then
    tail -80 "$log" >&2
    echo "!!! [$leg] $playbook failed (log: $log)" >&2
    return 1
  fi
  sed -n '/^PLAY RECAP/,$p' "$log" | sed '/^$/d;s/^/   /'
  echo "   ($((SECONDS - started)) s)"
}

run_leg() {
  local leg=$1 python venv started=$SECONDS
  python=$(python_for "$leg")
  if [[ -z $python ]]; then
    echo "!!! SKIPPED ansible-core ${CORE[$leg]}: no Python 3.12+ on this machine (ansible-core 2.20+ needs it;" \
      "Debian 12 has 3.11). Run the matrix on Debian 13 or with python3.12/3.13 installed." >&2
    [[ ${HAKIT_MATRIX_STRICT:-0} == 1 ]] && return 1
    return 0
  fi
  echo ">> matrix leg ansible-core ${CORE[$leg]} on $("$python" -V 2>&1) ($python), nodes ${IMAGE[$leg]}"
  venv=$(venv_for "$leg" "$python")
  "$venv/bin/ansible" --version | sed -n 1p # sed reads it all: head closes the pipe, and ansible 2.21 dies of it

  echo ">> [$leg] unit tests"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit | tail -1

  # only this checkout's collection and the dependency collections; no user or project config
  local cfg=$repo/.cache/matrix/ansible-$leg.cfg
  cat >"$cfg" <<EOF
[defaults]
collections_path = $repo/.collections:$podman_collections
interpreter_python = auto_silent
stdout_callback = ansible.builtin.default
callback_result_format = yaml
display_skipped_hosts = false
host_key_checking = false
retry_files_enabled = false
forks = 10
EOF
  export ANSIBLE_CONFIG=$cfg HAKIT_MATRIX_IMAGE=${IMAGE[$leg]}
  PLAY=("$venv/bin/ansible-playbook" -i tests/matrix/hosts.yml)
  trap '"${PLAY[@]}" playbooks/lab_destroy.yml >/dev/null 2>&1 || true' EXIT
  step "$leg" "remove any earlier matrix cluster" playbooks/lab_destroy.yml
  step "$leg" "fresh cluster (hakit-matrix, 10.213.16.0/24)" playbooks/lab_create.yml
  step "$leg" "converge playbooks/site.yml" playbooks/site.yml
  step "$leg" "preflight negatives (playbooks/preflight_negative.yml)" playbooks/preflight_negative.yml
  step "$leg" "modules on the cluster (tests/integration/modules.yml)" tests/integration/modules.yml
  step "$leg" "remove the cluster" playbooks/lab_destroy.yml
  trap - EXIT
  echo ">> matrix leg ansible-core ${CORE[$leg]}: passed in $((SECONDS - started)) s"
}

mkdir -p "$repo/.cache/matrix" "$repo/.collections/ansible_collections/hakit"
ln -sfn ../../.. "$repo/.collections/ansible_collections/hakit/heartbeat"
for leg in "${legs[@]}"; do
  [[ -n ${CORE[$leg]:-} ]] || { echo "unknown leg '$leg' (${!CORE[*]})" >&2; exit 2; }
  run_leg "$leg"
done
