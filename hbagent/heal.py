"""Who keeps what when a partition heals (two hbagent nodes that both took the same resources).

Pure: events in, actions out, no clock needed. The guard (guard.py) feeds it and carries its actions to
the resource manager and the wire.

Heartbeat 3.0.6 has one answer to a healed partition: each node logs "Cluster node X returning after
partition.", waits 2 s, gives up every resource and restarts itself; with two 3.0.6 nodes both do it and
the service is gone until they have restarted (20 s measured). hbagent keeps the service up instead:

1. Each side, when it hears the peer again after having declared it dead (membership's
   PartitionHealed), sends one claim: `hbagent_heal rsc_hold=<what it holds> incumbent=<what it held
   without interruption since before it lost the peer> [ping=<ping nodes it reaches>]`. A node that
   receives a claim answers with its own (it may not have seen the partition at all: a one-way cut).
2. Both sides then compute the same decision from the two claims (`decide`, a pure function of the
   claims and the names): for every resource set held by both, the keeper is
   * the node that reaches more ping nodes, when ping nodes are configured and the counts differ
     (the ipfail rule: the other would give everything up anyway);
   * else, with auto_failback off, the one node that held it before the partition (no needless move);
   * else the set's preferred node (haresources), which auto_failback would move it to anyway.
3. The other node releases that set (Relinquish), then tells its holdings; the keeper never releases,
   so there is no moment without a holder. The keeper announces its addresses again (gratuitous ARP)
   at the decision and once more when the loser reports its release done, so that clients whose ARP
   cache still points to the loser move back at once.

A 3.0.6 peer never sends a claim: this node then keeps everything it holds and releases nothing. That
is 3.0.6's own rule seen from the other side: the real node gives up all its resources two seconds
after the heal (`shutdone`, which makes this node take over whatever it lacked) and restarts, and the
normal start-up handshake (auto_failback) follows. Releasing here too would leave the service with no
holder, as in a pair of 3.0.6 nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .membership import Log
from .rscmgr import FOREIGN, LOCAL, NONE, Send, decode_resources, encode_resources

HEAL_TYPE = "hbagent_heal"


@dataclass(frozen=True)
class Claim:
    """What one node says about itself, with resource sets named by their preferred node."""

    node: str
    held: frozenset[str]  # preferred nodes whose sets this node holds
    incumbent: frozenset[str]  # ... and held without interruption since before the partition
    ping: int | None = None  # ping nodes reached; None: no ping nodes configured


@dataclass(frozen=True)
class Relinquish:
    """Release this resource set (bits in this node's terms: LOCAL = its own groups), possibly NONE,
    then tell the peer what is held now; `peer_holds`: what the peer keeps, in this node's terms."""

    rset: int
    why: str
    peer_holds: int = NONE


@dataclass(frozen=True)
class Reannounce:
    """Send gratuitous ARP again for the addresses of this resource set (this node's terms)."""

    rset: int


def decide(a: Claim, b: Claim, mode: str) -> dict[str, str]:
    """For each resource set (named by its preferred node) held by both nodes: the node that keeps it.
    Symmetric: decide(a, b) == decide(b, a)."""
    first, second = sorted((a, b), key=lambda c: c.node)
    keepers: dict[str, str] = {}
    for owner in sorted(first.held & second.held):
        if first.ping is not None and second.ping is not None and first.ping != second.ping:
            keeper = first.node if first.ping > second.ping else second.node
        elif mode == "off":
            incumbents = [c.node for c in (first, second) if owner in c.incumbent]
            keeper = incumbents[0] if len(incumbents) == 1 else owner
        else:
            keeper = owner
        keepers[owner] = keeper
    return keepers


class HealArbiter:
    def __init__(self, me: str, peer: str, auto_failback: str):
        self.me, self.peer = me.lower(), peer.lower()
        self.mode = auto_failback
        self.lost_peer = False  # the peer was declared dead and no heal round has settled it since
        self.held_at_loss = NONE
        self.claim_sent = False
        self.awaiting_release = NONE  # sets kept here that the peer still has to release
        self.last_decision: dict[str, str] = {}

    # -- names <-> bits --------------------------------------------------------------------
    def _owners(self, bits: int, node: str) -> frozenset[str]:
        """rsc_hold bits in `node`'s terms -> the preferred nodes of those sets."""
        other = self.peer if node == self.me else self.me
        owners = set()
        if bits & LOCAL:
            owners.add(node)
        if bits & FOREIGN:
            owners.add(other)
        return frozenset(owners)

    def _bits(self, owners) -> int:
        """Preferred nodes -> rsc_hold bits in this node's terms."""
        return (LOCAL if self.me in owners else NONE) | (FOREIGN if self.peer in owners else NONE)

    # -- events ----------------------------------------------------------------------------
    def peer_lost(self, holding: int) -> None:
        """Membership declared the peer dead; `holding`: what this node held at that moment."""
        if not self.lost_peer:
            self.lost_peer = True
            self.held_at_loss = holding
        self.claim_sent = False

    def peer_restarted(self) -> None:
        """The peer came back as a new process: the start-up handshake sorts resources out."""
        self.lost_peer = False
        self.claim_sent = False
        self.awaiting_release = NONE

    def healed(self, holding: int, ping: int | None) -> list:
        """The peer, declared dead, is heard again without a restart."""
        if not self.lost_peer or self.claim_sent:
            return []
        text = (f"Partition with {self.peer} healed: both nodes may hold the same resources; telling "
                f"{self.peer} what this node holds")  # fmt: skip
        return [Log("warning", text), self._claim(holding, ping)]

    def claim_received(self, fields: dict[str, str], holding: int, ping: int | None) -> list:
        """The peer's claim: answer with ours if not sent yet, then decide."""
        theirs = self._parse(fields)
        if theirs is None:
            return [Log("error", f"{HEAL_TYPE} from {self.peer} without a valid rsc_hold: ignored")]
        out: list = []
        if not self.claim_sent:
            out.append(self._claim(holding, ping))
        ours = Claim(self.me, self._owners(holding, self.me), self._owners(self._incumbent(holding), self.me),
                     ping)  # fmt: skip
        out += self._settle(ours, theirs)
        return out

    def peer_reported(self, fields: dict[str, str]) -> list:
        """A `resource` message from the peer: after a decision it lost, it says its release is done."""
        if not self.awaiting_release or fields.get("rtype") != "full":
            return []
        kept, self.awaiting_release = self.awaiting_release, NONE
        return [Reannounce(kept)]

    # -- internals ---------------------------------------------------------------------------
    def _incumbent(self, holding: int) -> int:
        return holding & self.held_at_loss if self.lost_peer else holding

    def _claim(self, holding: int, ping: int | None) -> Send:
        self.claim_sent = True
        fields = [("t", HEAL_TYPE), ("dest", self.peer), ("rsc_hold", decode_resources(holding)),
                  ("incumbent", decode_resources(self._incumbent(holding)))]  # fmt: skip
        if ping is not None:
            fields.append(("ping", str(ping)))
        return Send(tuple(fields))

    def _parse(self, fields: dict[str, str]) -> Claim | None:
        held = encode_resources(fields.get("rsc_hold"))
        if held is None:
            return None
        incumbent = encode_resources(fields.get("incumbent", "none"))
        ping_text = fields.get("ping")
        ping = int(ping_text) if ping_text is not None and ping_text.isdigit() else None
        return Claim(self.peer, self._owners(held, self.peer),
                     self._owners(incumbent if incumbent is not None else NONE, self.peer), ping)  # fmt: skip

    def _settle(self, ours: Claim, theirs: Claim) -> list:
        keepers = decide(ours, theirs, self.mode)
        self.last_decision = keepers
        self.lost_peer = False
        self.claim_sent = False
        lose = self._bits([owner for owner, keeper in keepers.items() if keeper == self.peer])
        keep = self._bits([owner for owner, keeper in keepers.items() if keeper == self.me])
        if keepers:
            said = "; ".join(f"{owner}'s resources stay on {keeper}" for owner, keeper in keepers.items())
            text = f"Partition heal with {self.peer}: {said}"
        else:
            text = f"Partition heal with {self.peer}: no resource set was held by both nodes"
        peer_keeps = self._bits(
            theirs.held - {owner for owner, keeper in keepers.items() if keeper == self.me}
        )
        out: list = [
            Log("info", text),
            Relinquish(lose, f"partition heal ({self.peer} keeps them)", peer_keeps),
        ]
        if keep:
            self.awaiting_release = keep
            out.append(Reannounce(keep))
        return out
