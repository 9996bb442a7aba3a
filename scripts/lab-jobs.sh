#!/usr/bin/env bash
# Run the suites that build podman clusters, HAKIT_JOBS (default 2) at a time: each has its own network,
# subnet and label, and most of a drill is waiting out deadtimes, so several fit on a 2-core machine.
#   lab-jobs.sh JOB...     JOB = a Molecule scenario (molecule/<JOB>), `installed` (scripts/installed-lab.sh),
#                          `matrix` (scripts/version-matrix.sh), `netns` or `interop` (tests/<JOB>, pytest);
#                          longest first is best
# Each job's output goes to build/<job>.log (Molecule: build/molecule-<scenario>.log); a failed one is shown,
# and the last lines printed are the failed checks of every failed job.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH"
jobs=${HAKIT_JOBS:-2}
mkdir -p build
declare -A pid_of=() started_at=()
failed=()

suite_of() { sed -n 's/^ *hakit_lab_suite: *\([A-Za-z0-9_.-]*\).*/\1/p' "molecule/$1/inventory/hosts.yml" | sed -n 1p; }

log_of() { case $1 in installed | matrix | netns | interop) echo "build/$1.log" ;; *) echo "build/molecule-$1.log" ;; esac; }

# The split-brain drill judges sub-second limits: its job (and the containers it starts, which inherit
# its priority) gets the CPU first; the others run at a lower priority beside it.
priority_of() { case $1 in splitbrain) echo 0 ;; *) echo 5 ;; esac; }

run_job() { # run_job JOB: the job's own clean-up is its first step
  renice -n "$(priority_of "$1")" -p "$BASHPID" >/dev/null
  case $1 in
    installed) bash scripts/installed-lab.sh ;;
    matrix) bash scripts/version-matrix.sh ;;
    netns | interop) python -m pytest -q "tests/$1" ;;
    *)
      bash scripts/lab-clean.sh "$(suite_of "$1")" >/dev/null
      molecule test -s "$1"
      ;;
  esac
}

finish() { # finish PID: report the scenario that ended
  local pid=$1 rc=0 s
  wait "$pid" || rc=$?
  for s in "${!pid_of[@]}"; do
    [ "${pid_of[$s]}" = "$pid" ] || continue
    unset "pid_of[$s]"
    if [ "$rc" = 0 ]; then
      echo ">> $s: passed in $((SECONDS - started_at[$s])) s"
    else
      echo ">> $s: FAILED (rc $rc) after $((SECONDS - started_at[$s])) s; log $(log_of "$s")"
      failed+=("$s")
    fi
  done
}

for scenario in "$@"; do
  while ((${#pid_of[@]} >= jobs)); do
    wait -n -p done_pid 2>/dev/null || true
    finish "$done_pid"
  done
  echo ">> $scenario: started"
  started_at[$scenario]=$SECONDS
  run_job "$scenario" >"$(log_of "$scenario")" 2>&1 &
  pid_of[$scenario]=$!
done
while ((${#pid_of[@]} > 0)); do
  wait -n -p done_pid 2>/dev/null || true
  finish "$done_pid"
done
for s in "${failed[@]}"; do
  echo "======== $(log_of "$s") (last 80 lines) ========"
  tail -n 80 "$(log_of "$s")"
done
# what failed, last, where a CI log's tail shows it: failed drill checks, Ansible errors, pytest failures
for s in "${failed[@]}"; do
  echo "======== why $s failed ========"
  grep -E -e '- \[ \] |^fatal: |^FAILED |^ERROR |failed: ' "$(log_of "$s")" | grep -v -e '^ERROR +Ansible return code' | cut -c1-400 | tail -n 12 || true
done
echo ">> lab jobs: ${#failed[@]} failed, in ${SECONDS} s"
((${#failed[@]} == 0))
