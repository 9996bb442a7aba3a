#!/usr/bin/env bash
# The Ansible community's own checks of the collection, each on a copy outside the checkout:
#   sanity     ansible-test sanity (tests/sanity/ignore-<core>.txt holds tests/ and bench/ entries only)
#   units      ansible-test units (tests/unit, the same tests as `make unit`)
#   import     galaxy-importer on the built tarball (tests/galaxy-importer.cfg: offline, no container runtime)
#   docs       antsibull-docs lint-collection-docs --plugin-docs on the installed tarball
#   changelog  antsibull-changelog lint, and CHANGELOG.md is what antsibull-changelog generates
# Usage: scripts/collection-check.sh [sanity|units|import|docs|changelog]...   (no argument: all five)
# ANSIBLE_TEST_PYTHON picks the Python of ansible-test (default: the one running ansible-core, 3.11+).
# Tools come from PATH (the Makefile puts .venv/bin first); ansible-test and ansible-galaxy of the same venv.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
checks=("$@")
[[ ${#checks[@]} -gt 0 ]] || checks=(sanity units import docs changelog)
tmp=$(mktemp -d /tmp/hakit-collection-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The checks see no ansible.cfg of the checkout (the Makefile exports it) or of the user.
printf '[defaults]\n' >"$tmp/ansible.cfg"
export ANSIBLE_CONFIG=$tmp/ansible.cfg
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

ansible_python=$(head -1 "$(command -v ansible-test)" | sed 's/^#!//')
py=${ANSIBLE_TEST_PYTHON:-$("$ansible_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
core=$("$ansible_python" -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))')

# The collection as ansible-test wants it: .../ansible_collections/hakit/heartbeat, the files git knows
# (tracked and new, not ignored), so that nothing of .venv/.cache/build leaks in.
stage() {
  local dest=$tmp/tree/ansible_collections/hakit/heartbeat
  if [[ ! -d $dest ]]; then
    mkdir -p "$dest"
    if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
      (cd "$repo" && git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
        [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done | tar -c --null -T - -f -) | tar -x -C "$dest"
    else
      tar -C "$repo" --exclude=./.venv --exclude=./.collections --exclude=./.cache --exclude=./build \
        --exclude=./dist --exclude=./.git -cf - . | tar -x -C "$dest"
    fi
  fi
  echo "$dest"
}

# ansible-test bootstraps pip in each of its venvs with a get-pip script downloaded from a host that is not
# reachable here. Its documented fallback is a script saved in its cache; ours brings pip with ensurepip.
get_pip_standin() {
  local pkg version cache
  pkg=$("$ansible_python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
  version=$(grep -oP "pip='\K[0-9.]+" "$pkg/_internal/python_requirements.py" | sed -n 1p)
  cache=$HOME/.ansible/test/cache/get_pip_${version//./_}.py
  # a real get-pip saved there by the user is left alone; our own stand-in is kept up to date
  if [[ ! -s $cache ]] || { grep -q 'Offline stand-in (hakit.heartbeat)' "$cache" &&
    ! cmp -s "$repo/scripts/ansible_test_get_pip.py" "$cache"; }; then
    mkdir -p "$(dirname "$cache")"
    cp "$repo/scripts/ansible_test_get_pip.py" "$cache"
    echo "   (ansible-test's pip bootstrap: $cache = scripts/ansible_test_get_pip.py)"
  fi
}

# Galaxy refuses a collection without `repository`. Until galaxy.yml names the public repository (only the
# maintainers know it; a made-up URL would be shipped), the import and docs checks build from a copy that
# says so in that field, and say it loudly here, so that every other finding still counts.
build() {
  if [[ ! -f $tmp/dist/done ]]; then
    local src=$repo
    if ! grep -q '^repository:' "$repo/galaxy.yml"; then
      src=$(stage)
      echo "repository: unpublished - set galaxy.yml repository before uploading to Galaxy" >>"$src/galaxy.yml"
      echo "WARNING: galaxy.yml has no 'repository', which Galaxy requires; checking a build that says" \
        "'unpublished' there. Set it to the public repository before the first upload." >&2
    fi
    ansible-galaxy collection build "$src" --output-path "$tmp/dist" --force >/dev/null
    touch "$tmp/dist/done"
  fi
  ls "$tmp"/dist/hakit-heartbeat-*.tar.gz
}

run_sanity() {
  echo ">> ansible-test sanity (ansible-core $core, Python $py)"
  get_pip_standin
  local dest
  dest=$(stage)
  (cd "$dest" && ansible-test sanity --venv --python "$py" --color no) >"$tmp/sanity.log" 2>&1 || {
    grep -E '^(ERROR|Running sanity test)' "$tmp/sanity.log" | grep -v '^ERROR: Command' >&2 || tail -40 "$tmp/sanity.log" >&2
    return 1
  }
  echo "   $(grep -c '^Running sanity test' "$tmp/sanity.log") sanity tests passed"
}

run_units() {
  echo ">> ansible-test units (ansible-core $core, Python $py)"
  get_pip_standin
  local dest
  dest=$(stage)
  (cd "$dest" && ansible-test units --venv --python "$py" --color no) >"$tmp/units.log" 2>&1 || {
    tail -60 "$tmp/units.log" >&2
    return 1
  }
  grep -E '^=+ .*(passed|failed).* =+$' "$tmp/units.log"
}

run_import() {
  echo ">> galaxy-importer"
  local tarball
  tarball=$(build)
  (cd "$tmp" && GALAXY_IMPORTER_CONFIG=$repo/tests/galaxy-importer.cfg \
    python -m galaxy_importer.main "$tarball") >"$tmp/import.log" 2>&1 || {
    cat "$tmp/import.log" >&2
    return 1
  }
  if grep -E '^(ERROR|WARNING)' "$tmp/import.log" | cut -c1-400 >&2; then
    echo "galaxy-importer: the import passed with the warnings above; Galaxy shows them, fix them" >&2
    return 1
  fi
  echo "   $(basename "$tarball") imported, no warning ($(grep -c '^Loading ' "$tmp/import.log") contents loaded)"
}

run_docs() {
  echo ">> antsibull-docs lint-collection-docs --plugin-docs (installed tarball)"
  local tarball
  tarball=$(build)
  # only the installed copy may be seen (not the checkout's .collections link, not another install)
  (cd "$tmp" && ANSIBLE_COLLECTIONS_PATH=$tmp/installed \
    ansible-galaxy collection install --offline --no-deps --force -p "$tmp/installed" "$tarball" >/dev/null)
  (cd "$tmp/installed/ansible_collections/hakit/heartbeat" &&
    ANSIBLE_COLLECTIONS_PATH=$tmp/installed antsibull-docs lint-collection-docs --plugin-docs .)
  echo "   no finding"
}

run_changelog() {
  echo ">> antsibull-changelog lint, CHANGELOG.md up to date"
  (cd "$repo" && antsibull-changelog lint)
  local dest
  dest=$(stage)
  (cd "$dest" && antsibull-changelog generate)
  if ! diff -u "$repo/CHANGELOG.md" "$dest/CHANGELOG.md" >&2; then
    echo "CHANGELOG.md is not what antsibull-changelog generates from changelogs/changelog.yaml:" \
      "run 'make changelog'" >&2
    return 1
  fi
}

for check in "${checks[@]}"; do
  case $check in
    sanity | units | import | docs | changelog) "run_$check" ;;
    *) echo "unknown check '$check' (sanity, units, import, docs, changelog)" >&2; exit 2 ;;
  esac
done
