"""Two resource managers with their split-brain guards on a wire the test can cut: stories of a partition
and its heal, an uplink loss, a fenced takeover (pure: fake clock, resource actions completed at once)."""

from collections import deque

from hbrsc_sim import LAB_GROUPS, SPEC_GROUPS, FakeClock, Node

from hbagent.config import parse_ha_cf
from hbagent.fencing import RunFence, fence_method
from hbagent.guard import Cleared, Guard, Reboot
from hbagent.heal import Reannounce, Relinquish
from hbagent.membership import Log
from hbagent.rscmgr import ClearTakeover, Reply, ResourceManager, Send
from hbagent.uplink import GiveUp


class Pair:
    def __init__(self, groups, mode="on", extra="", ping_nodes=0):
        self.clock = FakeClock()
        ha_cf = parse_ha_cf(
            f"keepalive 500ms\ndeadtime 3\nbcast eth0\nnode web1 web2\nauto_failback {mode}\n{extra}"
        )
        self.nodes, self.guards = {}, {}
        self.fences: dict[str, list[RunFence]] = {"web1": [], "web2": []}
        self.announced: dict[str, list[int]] = {"web1": [], "web2": []}
        self.logs: dict[str, list[str]] = {"web1": [], "web2": []}
        self.guard_sent: dict[str, list[dict]] = {"web1": [], "web2": []}
        for me in ("web1", "web2"):
            peer = self.peer_of(me)
            guard = Guard(me, peer, ha_cf, None, ping_nodes=ping_nodes, fence=fence_method(ha_cf, None, me))
            mgr = ResourceManager(me, ["web1", "web2"], groups, mode, clock=self.clock,
                                  guarded_takeover=guard.guarded, failback_veto=guard.uplink.failback_veto)  # fmt: skip
            guard.resources = mgr
            self.nodes[me], self.guards[me] = Node(mgr), guard
        self.wire: deque = deque()
        self.cut = False
        self.alive = {"web1": False, "web2": False}

    @staticmethod
    def peer_of(name):
        return "web2" if name == "web1" else "web1"

    def rsc(self, name, actions):
        node = self.nodes[name]
        for action in actions:
            if isinstance(action, ClearTakeover):
                self.guard(name, self.guards[name].takeover_requested(self.clock.now))
            else:
                node.handle([action])
        while node.outbox:
            self.wire.append((name, node.outbox.popleft()))

    def guard(self, name, actions):
        mgr = self.nodes[name].mgr
        for action in actions:
            if isinstance(action, Send):
                self.wire.append((name, action))
                self.guard_sent[name].append(dict(action.fields))
            elif isinstance(action, Relinquish):
                self.rsc(name, mgr.relinquish(action.rset, action.why, action.peer_holds))
            elif isinstance(action, Reannounce):
                self.announced[name].append(action.rset)
            elif isinstance(action, GiveUp):
                self.rsc(name, [a for a in mgr.standby(action.which) if not isinstance(a, Reply)])
            elif isinstance(action, Cleared):
                self.rsc(name, mgr.takeover_cleared(action.result))
            elif isinstance(action, RunFence):
                self.fences[name].append(action)
            elif isinstance(action, Log):
                self.logs[name].append(action.text)
            elif isinstance(action, Reboot):
                raise AssertionError("no reboot expected")

    def status(self, name, old, new):
        """Membership says `name`'s peer changed status (the daemon's order: guard first)."""
        self.guard(name, self.guards[name].peer_status(old, new, self.clock.now))
        self.rsc(name, self.nodes[name].mgr.peer_status(self.peer_of(name), new))

    def start(self):
        for name in ("web1", "web2"):
            self.alive[name] = True
        self.status("web1", "init", "dead")  # web1 alone first (initdead)
        self.rsc("web1", self.nodes["web1"].mgr.comm_up())
        self.deliver()
        self.status("web1", "dead", "init")
        self.status("web1", "init", "active")
        self.status("web2", "init", "active")
        self.rsc("web2", self.nodes["web2"].mgr.comm_up())
        self.deliver()
        self.tick(12)

    def deliver(self):
        for _round in range(1000):
            if not self.wire:
                return
            src, send = self.wire.popleft()
            dst = self.peer_of(src)
            if self.cut or not self.alive[dst]:
                continue
            fields = dict(send.fields)
            self.rsc(dst, self.nodes[dst].mgr.message(src, send.fields))
            self.guard(dst, self.guards[dst].message(fields, self.clock.now))
        raise AssertionError("messages kept flowing")

    def tick(self, seconds, step=0.25):
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.advance(step)
            for name in ("web1", "web2"):
                if self.alive[name]:
                    self.guard(name, self.guards[name].tick(self.clock.now))
                    self.rsc(name, self.nodes[name].mgr.tick())
            self.deliver()

    def partition(self):
        self.cut = True
        self.wire.clear()
        self.status("web1", "active", "dead")
        self.status("web2", "active", "dead")
        self.tick(1)

    def heal(self, detected_by=("web1", "web2")):
        self.cut = False
        for name in detected_by:
            self.guard(name, self.guards[name].healed(self.clock.now))
            self.status(name, "dead", "active")
        self.deliver()
        self.tick(1)

    def holders(self, key):
        return [n for n, node in self.nodes.items() if "non_ip" in node.running.get(key, set())]


LAB_KEY = LAB_GROUPS[0].key


def test_a_partition_heals_to_the_preferred_holder_and_never_to_none():
    pair = Pair(LAB_GROUPS)
    pair.start()
    assert pair.holders(LAB_KEY) == ["web1"]
    pair.partition()
    assert pair.holders(LAB_KEY) == ["web1", "web2"]  # no tiebreaker: both serve
    mark = len(pair.nodes["web2"].trace)
    pair.heal()
    assert pair.holders(LAB_KEY) == ["web1"]
    # web1 never released anything; web2 released the group, then told web1 what it holds
    assert not [t for t in pair.nodes["web1"].trace[mark:] if t[0] == "release"]
    assert ("release", (LAB_KEY,), "all") in pair.nodes["web2"].trace[mark:]
    assert pair.nodes["web1"].mgr.rscstatus() == "local" and pair.nodes["web2"].mgr.rscstatus() == "local"
    assert pair.announced["web1"] == [1, 1]  # at the decision, and once web2 said its release is done
    groups = pair.nodes["web2"].mgr.groups_status()
    assert [(g["held_by"], g["here"]) for g in groups] == [(["web1"], "stopped")]


def test_each_node_keeps_its_own_group_after_the_heal():
    pair = Pair(SPEC_GROUPS)
    pair.start()
    pair.partition()
    assert all(pair.holders(g.key) == ["web1", "web2"] for g in SPEC_GROUPS)
    pair.heal(detected_by=("web2",))  # one side notices first: the claim makes the other answer
    assert [pair.holders(g.key) for g in SPEC_GROUPS] == [["web1"], ["web2"]]


def test_with_auto_failback_off_the_node_that_held_it_before_keeps_it():
    pair = Pair(LAB_GROUPS, mode="off")
    pair.start()
    pair.rsc("web1", pair.nodes["web1"].mgr.standby("all"))  # web2 serves web1's group now
    pair.deliver()
    pair.tick(2)
    assert pair.holders(LAB_KEY) == ["web2"]
    pair.partition()
    assert pair.holders(LAB_KEY) == ["web1", "web2"]
    pair.heal()
    assert pair.holders(LAB_KEY) == ["web2"]  # no move back to web1


def test_a_takeover_waits_for_the_fence():
    pair = Pair(LAB_GROUPS, extra="stonith_host * null web1 web2")
    pair.start()
    pair.fences["web2"].clear()
    pair.alive["web1"] = False
    pair.status("web2", "active", "dead")
    (run,) = [f for f in pair.fences["web2"] if f.purpose == "reset"]
    assert run.argv == ("stonith", "-t", "null", "-p", "web1 web2", "-T", "reset", "web1")
    pair.tick(10)
    assert pair.holders(LAB_KEY) == ["web1"]  # (web1's copy is stale: web1 is gone) web2 waits
    pair.guard("web2", pair.guards["web2"].fence_done("reset", True, 0, "exit code 0", pair.clock.now))
    pair.tick(1)
    assert "web2" in pair.holders(LAB_KEY)
    assert {"t": "stonith", "node": "web1", "result": "OK"} in pair.guard_sent["web2"]
    assert "No STONITH device configured." not in [e.text for e in pair.nodes["web2"].logs]


def test_the_node_that_loses_its_uplink_hands_everything_over():
    pair = Pair(LAB_GROUPS, extra="ping 10.0.0.1", ping_nodes=1)
    pair.start()
    for name in ("web1", "web2"):
        pair.guard(name, pair.guards[name].ping_count(1, pair.clock.now))
    pair.deliver()
    pair.tick(2)
    assert pair.holders(LAB_KEY) == ["web1"]
    pair.guard("web1", pair.guards["web1"].ping_count(0, pair.clock.now))  # web1's uplink is gone
    pair.deliver()
    pair.tick(2)
    assert pair.holders(LAB_KEY) == ["web2"]
    assert pair.nodes["web2"].mgr.rscstatus() == "all"
    pair.guard("web1", pair.guards["web1"].ping_count(1, pair.clock.now))  # and back
    pair.deliver()
    pair.tick(3)
    assert pair.holders(LAB_KEY) == ["web1"]
