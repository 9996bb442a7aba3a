"""Network-namespace lab for multi-node hbagent tests (root + iproute2; skipped otherwise).

The lab itself (namespaces, agents, the web service, the HTTP probe) is netlab.py, shared with
bench/agent_bench.py. Every namespace is named hakit-nt-<run>-<x> and is removed, with every agent
process, when the fixture ends, whatever the outcome.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import netlab

pytestmark = pytest.mark.netns


@pytest.fixture(scope="session")
def netns_ok():
    reason = netlab.netns_unusable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def agent_pyz(tmp_path_factory, netns_ok) -> pathlib.Path:
    """The zipapp, built from this checkout (what `make agent` ships)."""
    return netlab.build_agent(tmp_path_factory.mktemp("dist") / "hbagent.pyz")


@pytest.fixture
def lab(tmp_path, agent_pyz):
    # HAKIT_NETNS_PREFIX: a run of its own (e.g. beside `make test`, which removes hakit-nt-*)
    lab = netlab.Lab(tmp_path, agent_pyz, prefix=os.environ.get("HAKIT_NETNS_PREFIX", "hakit-nt"))
    try:
        yield lab
    finally:
        lab.teardown()
        for agent in lab.agents.values():  # shown only when the test failed
            print(f"----- {agent.name} log -----\n{agent.log()[-6000:]}")


@pytest.fixture
def wait_for():
    return netlab.wait_for
