# shellcheck shell=bash
# The io.hakit.lab label values (and netns:PREFIX namespace prefixes) that `make test` owns: every
# Molecule scenario's hakit_lab_suite, the interop, installed-copy, version-matrix and netns suites. `make lab` owns
# "lab", the benches "bench"/"netns:bench": a test run never removes those, nor they a test run's.
__hakit_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HAKIT_TEST_SUITES="interop installed matrix netns netns:nt $(sed -n 's/^ *hakit_lab_suite: *\([A-Za-z0-9_.-]*\).*/\1/p' \
  "$__hakit_root"/molecule/*/inventory/hosts.yml 2>/dev/null | sort -u | tr '\n' ' ')"
export HAKIT_TEST_SUITES
