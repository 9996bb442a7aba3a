"""Fixtures for the interop suite: one podman lab per session, every node quiet at the start of a test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import interop_harness as harness


@pytest.fixture(scope="session")
def lab():
    reason = harness.podman_usable()
    if reason:
        pytest.skip(reason)
    harness.interrupt_on_sigterm()
    lab = harness.Lab()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def authkey() -> str:
    """One random md5 key per run, so that no test passes on a key baked into anything."""
    return harness.new_authkey()


@pytest.fixture(scope="session")
def agent_pyz() -> Path:
    reason = harness.agent_unavailable()
    if reason:
        pytest.skip(reason)
    return harness.AGENT_PYZ


@pytest.fixture
def clean_lab(lab, request):
    """The lab with nothing running on either node and fresh logs; logs are printed if the test fails."""
    lab.quiesce()
    yield lab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for node in lab.nodes.values():
            print(f"===== {node.name}: {harness.HA_LOG} =====\n{node.ha_log()}")
            print(f"===== {node.name}: journal (heartbeat, {harness.AGENT_UNIT}) =====")
            print(node.journal("heartbeat") + node.journal(harness.AGENT_UNIT))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_collection_modifyitems(items):
    # The two-real-node harness checks first (when they fail, the agent's results mean nothing), then
    # membership (issue 3), then resources (issue 4). sort() is stable: other suites keep their order.
    order = ("interop/test_real_pair.py", "interop/test_agent_membership.py", "interop/test_agent_failover.py")
    items.sort(key=lambda item: next((i for i, f in enumerate(order) if f in item.nodeid), -1))
