"""Make `ansible_collections.hakit.heartbeat` importable from the checkout.

`make venv` links .collections/ansible_collections/hakit/heartbeat to the repository root; the
link is made here too when pytest runs before it, so the unit tests need no other set-up.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "hakit" / "heartbeat"

if not LINK.exists() and not LINK.is_symlink():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to("../../..")
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
