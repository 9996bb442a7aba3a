"""Resource sets as Heartbeat 3.0.6 names them on the wire (`rsc_hold`): bits relative to the sender
(LOCAL = the groups whose haresources node is the sender), and the standby phases (spec §8.5, §8.6)."""

from __future__ import annotations

import enum

NONE, LOCAL, FOREIGN, ALL = 0, 1, 2, 3
RSC_NAMES = ("none", "local", "foreign", "all")


class Standby(enum.Enum):
    NOT = "not"
    ME = "me"
    OTHER = "other"
    DONE = "done"


def encode_resources(name: str | None) -> int | None:
    return RSC_NAMES.index(name) if name in RSC_NAMES else None


def decode_resources(bits: int) -> str:
    return RSC_NAMES[bits]


def _taker_set(rset: int) -> int:
    """What the taker acquires when the giver gives up `rset` (go_standby's mirror)."""
    return {FOREIGN: LOCAL, LOCAL: FOREIGN}.get(rset, ALL)


def _update(full: bool, current: int, update: int) -> int:
    # HB_UPD_RSC: full replaces; incremental ORs, except that "none" always means none
    if full or update == NONE:
        return update
    return current | update
