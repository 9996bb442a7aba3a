# hakit.heartbeat — one entry point for the lab, the tests and the agent build.
# `make lab` and `make test` work on a fresh Debian 12 machine (as root): they install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV    := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
PYTEST  := $(VENV)/bin/python -m pytest

.PHONY: help venv host images lint unit check agent galaxy netns interop molecule molecule-bookworm \
        molecule-trixie test lab lab-down clean-tests bench-agent

help:
	@echo "make lab        build the podman lab cluster and run the four-case drill (leaves it running)"
	@echo "make lab-down   remove everything the lab created"
	@echo "make check      fast loop: lint + unit tests"
	@echo "make test       everything CI runs: check, agent, galaxy build/install, netns, interop, molecule"
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

check: lint unit

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

molecule-bookworm: venv images
	@bash scripts/lab-clean.sh mol-bookworm
	@molecule test -s default

molecule-trixie: venv images
	@bash scripts/lab-clean.sh mol-trixie
	@molecule test -s trixie

molecule: molecule-bookworm molecule-trixie

test: clean-tests check galaxy netns interop molecule

# -- the lab -------------------------------------------------------------------------------------
lab: venv images
	@bash scripts/lab-clean.sh lab
	@bash scripts/lab.sh up

lab-down: venv host
	@bash scripts/lab.sh down

bench-agent: venv agent images
	@$(VENV)/bin/python bench/agent_bench.py

# split-brain drills with two agents (netns) and, with podman, the heal of Heartbeat/mixed/agent pairs
.PHONY: bench-split-brain
bench-split-brain: venv agent images
	@$(VENV)/bin/python bench/split_brain_bench.py --engines --engine-reps 2
