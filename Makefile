# hakit.heartbeat — one entry point for the lab, the tests and the agent build.
# `make lab` and `make test` work on a fresh Debian 12 machine (as root): they install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV    := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
PYTEST  := $(VENV)/bin/python -m pytest

.PHONY: help venv host images lint unit check agent galaxy netns interop molecule installed lab-jobs \
        test lab lab-down clean-tests bench-agent

help:
	@echo "make lab        build the podman lab cluster and run the four-case drill (leaves it running);"
	@echo "                ENGINE=agent: hbagent on both nodes, ENGINE=mixed: Heartbeat web1 + hbagent web2;"
	@echo "                ENGINE=pacemaker: Corosync + Pacemaker; NODES=3 (pacemaker only): a third node, web3"
	@echo "                SPLIT_BRAIN=1: a second heartbeat link, a ping node and the split-brain cases"
	@echo "                CONTENT=1: web root kept in sync (content_sync) and the content cases in the drill"
	@echo "make lab-down   remove everything the lab created"
	@echo "make check      fast loop: lint + unit tests"
	@echo "make test       everything CI runs: check, collection checks, galaxy build/install, then two at a time:"
	@echo "                the Molecule scenarios, netns, interop, the installed-copy lab, the version matrix;"
	@echo "                HAKIT_FULL=1 adds the split-brain cases on mixed and Heartbeat pairs, web1's"
	@echo "                switch to the agent and back in default and the three-node Pacemaker drill (slow)"
	@echo "make agent      build dist/hbagent.pyz"

# -- environment ---------------------------------------------------------------------------------
venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements-dev.txt
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@echo ">> installing pinned controller tools into .venv"
	@$(VENV)/bin/pip -q install --disable-pip-version-check -r requirements-dev.txt
	@mkdir -p .collections/ansible_collections/hakit
	@ln -sfn ../../.. .collections/ansible_collections/hakit/heartbeat
	@touch $@

host:
	@bash scripts/host-setup.sh

images: host
	@bash scripts/image/build.sh bookworm
	@bash scripts/image/build.sh trixie
	@bash scripts/image/build-heartbeat.sh
	@bash scripts/image/seed-debs.sh bookworm
	@bash scripts/image/seed-debs.sh trixie

# Each entry point removes only what its own suites left (label io.hakit.lab=<suite>, scripts/suites.sh):
# `make test` never touches a running `make lab` or bench, nor they a test run.
clean-tests: host
	@bash scripts/lab-clean.sh --tests

# -- fast loop -----------------------------------------------------------------------------------
lint: venv
	@echo ">> ruff"; ruff check .
	@echo ">> yamllint"; yamllint -s .
	@echo ">> ansible-lint"; ansible-lint -q

unit: venv
	@$(PYTEST) -q tests/unit

check: lint unit fuzz-quick

# -- agent ---------------------------------------------------------------------------------------
agent: dist/hbagent.pyz
dist/hbagent.pyz: $(shell find hbagent plugins/module_utils -name '*.py' 2>/dev/null) scripts/build-agent.py
	@python3 scripts/build-agent.py dist/hbagent.pyz

# -- slower suites -------------------------------------------------------------------------------
galaxy: venv
	@bash scripts/galaxy-check.sh

netns: venv agent images
	@$(PYTEST) -q tests/netns

interop: venv agent images
	@$(PYTEST) -q tests/interop

# The suites that mostly wait out deadtimes, longest first, HAKIT_JOBS at a time on their own networks and
# labels (scripts/lab-jobs.sh): every Molecule scenario, the agent's netns and interop tests, the
# installed-copy lab and the version matrix.
MOLECULE_SCENARIOS ?= default trixie pacemaker splitbrain content
LAB_JOBS ?= default trixie matrix pacemaker content netns splitbrain installed interop
lab-jobs: venv agent images
	@bash scripts/lab-jobs.sh $(LAB_JOBS)

molecule: venv images
	@bash scripts/lab-jobs.sh $(MOLECULE_SCENARIOS)

# one scenario: make molecule-trixie
molecule-%: venv images
	@HAKIT_JOBS=1 bash scripts/lab-jobs.sh $*

# the collection as users get it: built, installed with ansible-galaxy, used from an empty directory
installed: venv images
	@bash scripts/installed-lab.sh

# each step's wall time is printed, so that a slow CI run says where its time went
TEST_STEPS := clean-tests check collection-check galaxy lab-jobs
test: venv
	@for step in $(TEST_STEPS); do \
	  started=$$SECONDS; $(MAKE) --no-print-directory $$step; \
	  echo ">> make $$step: $$((SECONDS - started)) s"; \
	done

# -- the lab -------------------------------------------------------------------------------------
ENGINE ?= heartbeat
NODES ?= 2
SPLIT_BRAIN ?=
CONTENT ?= 0
lab: venv images
	@bash scripts/lab-clean.sh lab
	@ENGINE=$(ENGINE) NODES=$(NODES) SPLIT_BRAIN=$(SPLIT_BRAIN) CONTENT=$(CONTENT) bash scripts/lab.sh up

lab-down: venv host
	@bash scripts/lab.sh down

bench-agent: venv agent images
	@$(VENV)/bin/python bench/agent_bench.py

# -- the Ansible community's checks and the supported versions ------------------------------------
.PHONY: collection-check changelog matrix

# ansible-test sanity + units, galaxy-importer, antsibull-docs lint, changelog (scripts/collection-check.sh)
collection-check: venv
	@bash scripts/collection-check.sh

# CHANGELOG.md from changelogs/fragments (antsibull-changelog), for the version galaxy.yml names
changelog: venv
	@antsibull-changelog release --version $(shell sed -n 's/^version: *//p' galaxy.yml)

# The oldest claimed ansible-core and the newest on Python 3.12+: unit tests, preflight negatives, a converge
matrix: venv images
	@bash scripts/version-matrix.sh

# -- hostile input (issue 8) ---------------------------------------------------------------------
.PHONY: fuzz-quick fuzz bench-attack

# seeded fuzzing, 10,000 cases per target, and the crasher corpus replayed (about ten seconds)
fuzz-quick: venv
	@$(PYTEST) -q tests/fuzz tests/unit/hbagent/test_hostile_input.py

# the long run: 1,000,000 cases per target (about ten minutes on two cores)
fuzz: venv
	@$(VENV)/bin/python tests/fuzz/run.py --cases 1000000

bench-attack: venv agent
	@$(VENV)/bin/python bench/attack_bench.py

# split-brain drills with two agents (netns) and, with podman, the heal of Heartbeat/mixed/agent pairs
.PHONY: bench-split-brain
bench-split-brain: venv agent images
	@$(VENV)/bin/python bench/split_brain_bench.py --engines --engine-reps 2
