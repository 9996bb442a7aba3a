"""Make `ansible_collections.hakit.heartbeat` importable from the checkout.

`make venv` links .collections/ansible_collections/hakit/heartbeat to the repository root; the
link is made here too when pytest runs before it, so the unit tests need no other set-up.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "hakit" / "heartbeat"

# A tree that already sits at .../ansible_collections/hakit/heartbeat (ansible-test's copy) needs no link.
if ROOT.parent.name == "hakit" and ROOT.parent.parent.name == "ansible_collections":
    COLLECTIONS = ROOT.parents[2]
elif not LINK.exists() and not LINK.is_symlink():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to("../../..")
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


def pytest_configure(config):
    """The project's markers, for runs that do not read pyproject.toml (ansible-test units uses its own
    pytest config with --strict-markers)."""
    config.addinivalue_line(
        "markers", "netns: needs root and ip netns (multi-node tests in network namespaces)"
    )
    config.addinivalue_line("markers", "podman: needs podman and the lab images")
