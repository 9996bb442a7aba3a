"""The uplink tiebreak: Heartbeat's ipfail rule as a pure state machine (events in, actions out).

With ping nodes configured (pingnodes.py), each node tells the other how many it reaches and:
* the node that reaches fewer ping nodes than its peer gives all its resources to the peer (after one
  keepalive, so that a ping node that died for both is seen dead by both first);
* once the counts are balanced again, with auto_failback on, the node holding the peer's own groups
  gives them back (ipfail: "Giving up foreign resources (auto_failback)");
* a node never fails back to a peer that reaches fewer ping nodes (`failback_veto`);
* a node that reaches none never takes resources from a silent peer that, when last heard, reached
  some (`takeover_veto`): the peer is probably fine and it is this node that is cut off. It waits; the
  takeover proceeds once it reaches a ping node again (or if the peer reached none either).

The wire messages are ipfail's, so a 3.0.6 peer running ipfail (`respawn hacluster
/usr/lib/heartbeat/ipfail`) understands them: `num_ping_nodes num_ping=<n>` (our count), answered by
`you_are_dead` (the receiver reaches more) or `abort_giveup` (balanced). hbagent sends its count on
every change and when the peer appears, and answers a count it has not answered yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from .membership import Log
from .rscmgr import ALL, FOREIGN, Send

GIVEUP_RETRY_S = 1.0


@dataclass(frozen=True)
class GiveUp:
    """Hand this set to the peer (hb_standby): 'all' (we reach fewer) or 'foreign' (balanced again)."""

    which: str
    why: str


class Uplink:
    def __init__(self, me: str, peer: str, ping_nodes: int, keepalive_s: float, auto_failback: str):
        self.me, self.peer = me, peer
        self.ping_nodes = ping_nodes  # configured; 0 = the rule is off
        self.settle_s = keepalive_s
        self.auto_failback = auto_failback == "on"
        self.mine = 0
        self.theirs: int | None = None  # the peer's count while it is alive
        self.last_known: int | None = None  # the peer's count when last heard (kept after its death)
        self.peer_alive = False
        self.told: int | None = None  # our count as the peer last heard it
        self.peer_fewer_since: float | None = None  # the peer reaches fewer than we do, since
        self.giveback = False  # balanced again: give the peer its own groups back (auto_failback on)
        self.giveup: tuple[float, str] | None = None  # (when, which)

    @property
    def configured(self) -> bool:
        return self.ping_nodes > 0

    def count(self) -> int | None:
        return self.mine if self.configured else None

    # -- events ----------------------------------------------------------------------------
    def reachable(self, count: int, now: float) -> list:
        """This node's count of answering ping nodes changed."""
        if not self.configured:
            return []
        self.mine = count
        return self._tell() + self._evaluate(now)

    def peer_up(self, now: float) -> list:
        if not self.configured:
            return []
        self.peer_alive = True
        self.theirs = None  # whatever it reached before, it tells us again
        self.told = None
        return self._tell()

    def peer_down(self) -> None:
        self.peer_alive = False
        self.theirs = None
        self.giveup = None

    def message(self, mtype: str, fields: dict[str, str], now: float) -> list:
        if not self.configured:
            return []
        if mtype == "num_ping_nodes":
            text = fields.get("num_ping", "")
            if not text.isdigit():
                return [Log("error", f"num_ping_nodes from {self.peer} without a count: ignored")]
            self.theirs = self.last_known = int(text)
            out: list = []
            if self.mine > self.theirs:
                out.append(Send((("t", "you_are_dead"), ("dest", self.peer))))
            elif self.mine == self.theirs:
                out.append(Send((("t", "abort_giveup"), ("dest", self.peer))))
            return out + self._tell() + self._evaluate(now)
        if mtype == "you_are_dead":  # a 3.0.6 ipfail that reaches more than we do
            if self.theirs is None or self.theirs <= self.mine:
                self.theirs = self.last_known = self.mine + 1
            return self._evaluate(now)
        balanced = self.theirs is None or self.theirs <= self.mine
        if mtype == "abort_giveup" and self.giveup and self.giveup[1] == "all" and balanced:
            self.giveup = None
            return [Log("info", f"{self.peer}: ping node count balanced, no giveup")]
        return []

    def tick(self, now: float, holding: int) -> list:
        if self.giveup is None or now < self.giveup[0]:
            return []
        which = self.giveup[1]
        wanted = ALL if which == "all" else FOREIGN
        if not self.peer_alive or not holding & wanted or self._target() != which:
            self.giveup = None
            if which == "foreign":
                self.giveback = False
            return []
        self.giveup = (now + GIVEUP_RETRY_S, which)  # until the move is done (a standby may be refused)
        if which == "all":
            why = f"this node reaches {self.mine} of {self.ping_nodes} ping nodes, {self.peer} reaches {self.theirs}"
        else:
            why = f"ping nodes balanced again ({self.mine} each): giving {self.peer} its resources back"
        return [GiveUp(which, why)]

    # -- queries -----------------------------------------------------------------------------
    def takeover_veto(self) -> str | None:
        if not self.configured or self.mine > 0:
            return None
        if self.last_known == 0:
            return None  # both blind: the uplink cannot tell, the old rule applies
        seen = "unknown" if self.last_known is None else str(self.last_known)
        return (f"this node reaches none of its {self.ping_nodes} ping nodes while {self.peer} reached "
                f"{seen} when last heard: not taking over until a ping node answers")  # fmt: skip

    def failback_veto(self) -> str | None:
        if not self.configured or self.theirs is None or self.theirs >= self.mine:
            return None
        return f"{self.peer} reaches {self.theirs} ping nodes, this node {self.mine}"

    def snapshot(self) -> dict:
        return {"ping_nodes": self.ping_nodes, "reachable": self.mine, "peer_reachable": self.theirs,
                "peer_last_known": self.last_known,
                "giveup_pending": self.giveup[1] if self.giveup else None}  # fmt: skip

    # -- internals ---------------------------------------------------------------------------
    def _tell(self) -> list:
        if not self.peer_alive or self.told == self.mine:
            return []
        self.told = self.mine
        return [Send((("t", "num_ping_nodes"), ("dest", self.peer), ("num_ping", str(self.mine))))]

    def _target(self) -> str | None:
        """What this node should hand over now, if anything."""
        if self.theirs is None:
            return None
        if self.mine < self.theirs:
            return "all"
        if self.mine == self.theirs and self.giveback:
            return "foreign"
        return None

    def _evaluate(self, now: float) -> list:
        if not self.peer_alive or self.theirs is None:
            return []
        if self.theirs < self.mine:
            self.peer_fewer_since = now if self.peer_fewer_since is None else self.peer_fewer_since
            self.giveback = False
        elif self.theirs > self.mine:
            self.peer_fewer_since, self.giveback = None, False
        elif self.peer_fewer_since is not None:
            # balanced again after the peer's uplink loss (one that lasted: it gave us its groups)
            self.giveback = self.auto_failback and now - self.peer_fewer_since >= self.settle_s
            self.peer_fewer_since = None
        target = self._target()
        if target is None:
            self.giveup = None
            return []
        if self.giveup is not None and self.giveup[1] == target:
            return []
        self.giveup = (now + self.settle_s, target)
        if target == "all":
            return [Log("info", f"Giving up in {self.settle_s:g}s: this node reaches {self.mine} ping "
                                f"nodes, {self.peer} reaches {self.theirs}")]  # fmt: skip
        return []
