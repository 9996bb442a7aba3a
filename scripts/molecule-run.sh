#!/usr/bin/env bash
# Run Molecule scenarios, HAKIT_JOBS (default 2) at a time: each has its own network, subnet and label
# (molecule/<scenario>/inventory/hosts.yml), and most of a drill is waiting out deadtimes, so two fit on
# a 2-core machine. Each scenario's output goes to build/molecule-<scenario>.log; a failed one is shown.
#   molecule-run.sh SCENARIO...   (longest first is best)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH"
jobs=${HAKIT_JOBS:-2}
mkdir -p build
declare -A pid_of=() started_at=()
failed=()

suite_of() { sed -n 's/^ *hakit_lab_suite: *\([A-Za-z0-9_.-]*\).*/\1/p' "molecule/$1/inventory/hosts.yml" | head -n1; }

finish() { # finish PID: report the scenario that ended
  local pid=$1 rc=0 s
  wait "$pid" || rc=$?
  for s in "${!pid_of[@]}"; do
    [ "${pid_of[$s]}" = "$pid" ] || continue
    unset "pid_of[$s]"
    if [ "$rc" = 0 ]; then
      echo ">> molecule $s: passed in $((SECONDS - started_at[$s])) s"
    else
      echo ">> molecule $s: FAILED (rc $rc) after $((SECONDS - started_at[$s])) s; log build/molecule-$s.log"
      failed+=("$s")
    fi
  done
}

for scenario in "$@"; do
  while ((${#pid_of[@]} >= jobs)); do
    wait -n -p done_pid 2>/dev/null || true
    finish "$done_pid"
  done
  bash scripts/lab-clean.sh "$(suite_of "$scenario")" >/dev/null
  echo ">> molecule $scenario: started"
  started_at[$scenario]=$SECONDS
  molecule test -s "$scenario" >"build/molecule-$scenario.log" 2>&1 &
  pid_of[$scenario]=$!
done
while ((${#pid_of[@]} > 0)); do
  wait -n -p done_pid 2>/dev/null || true
  finish "$done_pid"
done
for s in "${failed[@]}"; do
  echo "======== build/molecule-$s.log (last 80 lines) ========"
  tail -n 80 "build/molecule-$s.log"
done
((${#failed[@]} == 0))
