"""IPaddr / IPaddr2: argument syntax (Debian wrapper), `ip` commands, alias labels, gratuitous ARP."""

import ipaddress
import json
import threading
from typing import ClassVar

import pytest

from hbagent.config import Resource
from hbagent.resources import (
    ARP_REPLY,
    ARP_REQUEST,
    ArpSettings,
    CommandResult,
    GarpAnnouncer,
    IPaddrRunner,
    IPSpec,
    ResourceError,
    ResourceExecutor,
    arp_frame,
    parse_ipaddr,
)

# ---------------------------------------------------------------------------- argument syntax


@pytest.mark.parametrize(
    ("arg", "agent", "spec"),
    [
        ("10.0.0.50", "IPaddr", IPSpec("10.0.0.50")),
        ("10.0.0.50/24", "IPaddr", IPSpec("10.0.0.50", 24)),
        ("10.0.0.50/255.255.255.0", "IPaddr", IPSpec("10.0.0.50", 24)),
        ("10.0.0.50/255.255.240.0", "IPaddr", IPSpec("10.0.0.50", 20)),
        ("10.0.0.50/32", "IPaddr", IPSpec("10.0.0.50", 32)),
        ("10.0.0.50/24/eth0", "IPaddr", IPSpec("10.0.0.50", 24, "eth0")),
        (
            "10.0.0.50/24/10.0.0.255",
            "IPaddr",
            IPSpec("10.0.0.50", 24, None, "10.0.0.255"),
        ),  # digit: broadcast
        ("10.0.0.50/24/eth0/10.0.0.127", "IPaddr", IPSpec("10.0.0.50", 24, "eth0", "10.0.0.127")),
        ("10.0.0.50/24/enp0s3", "IPaddr", IPSpec("10.0.0.50", 24, "enp0s3")),
        ("10.0.0.50/24/eth0:web", "IPaddr2", IPSpec("10.0.0.50", 24, "eth0", None, "eth0:web")),
    ],
)
def test_ipaddr_argument_forms(arg, agent, spec):
    assert parse_ipaddr(arg, agent) == spec


@pytest.mark.parametrize(
    ("arg", "agent", "problem"),
    [
        ("10.0.0.300", "IPaddr", "not an IPv4 address"),
        ("web.example", "IPaddr", "not an IPv4 address"),
        ("10.0.0.50/33", "IPaddr", "out of range"),
        ("10.0.0.50/0", "IPaddr", "out of range"),
        ("10.0.0.50/255.0.255.0", "IPaddr", "not a contiguous mask"),
        ("10.0.0.50/24/10.0.0.255/eth0", "IPaddr", "nothing may follow the broadcast"),
        ("10.0.0.50/24/eth0/bcast", "IPaddr", "broadcast [bcast] is not an IPv4"),
        ("10.0.0.50//eth0", "IPaddr", "empty part"),
        ("10.0.0.50/24/eth0/10.0.0.255/x", "IPaddr", "too many"),
        ("10.0.0.50/24/eth0:1", "IPaddr", "labels: IPaddr2"),
        ("10.0.0.50/24/averyveryverylongname", "IPaddr", "invalid interface name"),
        ("10.0.0.50/24/eth0:averyverylonglabel", "IPaddr2", "invalid interface name"),
    ],
)
def test_ipaddr_argument_errors_name_the_argument(arg, agent, problem):
    with pytest.raises(ResourceError) as err:
        parse_ipaddr(arg, agent)
    assert problem in str(err.value) and f"[{arg}]" in str(err.value)


# ---------------------------------------------------------------------------- a fake `ip`


class FakeIp:
    """Enough of iproute2 for IPaddrRunner: JSON addr/route listings, addr add/del with labels."""

    def __init__(self, links=None, routes=None):
        self.links = links or {"lo": [("127.0.0.1", 8, "lo")], "eth0": [("10.213.10.11", 24, "eth0")]}
        self.routes = routes or [
            {"dst": "default", "gateway": "10.213.10.1", "dev": "eth0", "flags": []},
            {"dst": "10.213.10.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "flags": []},
            {"dst": "10.213.99.0/24", "gateway": "10.213.10.1", "dev": "eth0", "flags": []},
        ]
        self.calls = []
        self.fail = None  # argv prefix that fails

    def __call__(self, argv, timeout, env=None):
        argv = list(argv)
        self.calls.append(argv)
        assert timeout > 0
        if self.fail and argv[: len(self.fail)] == self.fail:
            return CommandResult(2, "RTNETLINK answers: Operation not permitted\n")
        if argv[:5] == ["ip", "-j", "-4", "addr", "show"]:
            data = [
                {
                    "ifname": dev,
                    "addr_info": [
                        {"family": "inet", "local": a, "prefixlen": p, "label": lab} for a, p, lab in addrs
                    ],
                }
                for dev, addrs in self.links.items()
            ]
            return CommandResult(0, json.dumps(data))
        if argv[:5] == ["ip", "-j", "-4", "route", "show"]:
            return CommandResult(0, json.dumps(self.routes))
        if argv[:4] == ["ip", "-4", "addr", "add"]:
            ip, bits = argv[4].split("/")
            dev = argv[argv.index("dev") + 1]
            label = argv[argv.index("label") + 1] if "label" in argv else dev
            if any(a == ip for a, _, _ in self.links[dev]):
                return CommandResult(2, "RTNETLINK answers: File exists\n")
            self.links[dev].append((ip, int(bits), label))
            return CommandResult(0, "")
        if argv[:4] == ["ip", "-4", "addr", "del"]:
            ip, bits = argv[4].split("/")
            dev = argv[argv.index("dev") + 1]
            self.links[dev] = [x for x in self.links[dev] if not (x[0] == ip and x[1] == int(bits))]
            return CommandResult(0, "")
        raise AssertionError(f"unexpected command {argv}")

    def adds(self):
        return [c for c in self.calls if c[:4] == ["ip", "-4", "addr", "add"]]


class FakeLink:
    opened: ClassVar[list["FakeLink"]] = []

    def __init__(self, nic):
        self.nic, self.mac, self.frames = nic, bytes.fromhex("020000aabbcc"), []
        self.closed = threading.Event()
        FakeLink.opened.append(self)

    def send(self, frame):
        self.frames.append(frame)

    def close(self):
        self.closed.set()


def ip_runner(word, fake_ip, arp=None):
    name, arg = word.split("::")
    executor = ResourceExecutor(fake_ip, open_link=FakeLink, arp=arp or ArpSettings(enabled=False))
    runner = executor.runner_for(Resource(word, name, [arg]))
    assert isinstance(runner, IPaddrRunner)
    return executor, runner


def test_ipaddr_start_adds_secondary_with_free_alias_label_and_is_idempotent():
    ip = FakeIp()
    ip.links["eth0"].append(("10.213.10.60", 24, "eth0:0"))  # eth0:0 taken by another VIP
    _, runner = ip_runner("IPaddr::10.213.10.50/24/eth0", ip)
    assert not runner.status().ok
    outcome = runner.start()
    assert outcome.ok, outcome.reason
    assert ip.adds() == [
        [
            "ip",
            "-4",
            "addr",
            "add",
            "10.213.10.50/24",
            "brd",
            "10.213.10.255",
            "dev",
            "eth0",
            "label",
            "eth0:1",
        ]
    ]
    assert runner.status().ok
    again = runner.start()
    assert again.ok and "already configured" in again.reason
    assert len(ip.adds()) == 1


def test_ipaddr_nic_and_netmask_from_the_route_table():
    ip = FakeIp()
    _, runner = ip_runner("IPaddr::10.213.10.50", ip)
    assert runner.start().ok
    assert ip.adds()[0][4:] == ["10.213.10.50/24", "brd", "10.213.10.255", "dev", "eth0", "label", "eth0:0"]


def test_ipaddr_explicit_netmask_and_broadcast_win_over_the_route():
    ip = FakeIp()
    _, runner = ip_runner("IPaddr::10.213.10.50/25/10.213.10.100", ip)
    assert runner.start().ok
    assert ip.adds()[0][4:8] == ["10.213.10.50/25", "brd", "10.213.10.100", "dev"]


def test_ipaddr2_has_no_label_unless_given_and_no_broadcast_on_slash_32():
    ip = FakeIp()
    _, runner = ip_runner("IPaddr2::10.213.10.50/32/eth0", ip)
    assert runner.start().ok
    assert ip.adds() == [["ip", "-4", "addr", "add", "10.213.10.50/32", "dev", "eth0"]]
    _, labelled = ip_runner("IPaddr2::10.213.10.51/24/eth0:web", ip)
    assert labelled.start().ok
    assert ip.adds()[-1][-2:] == ["label", "eth0:web"]


def test_ipaddr_without_connected_route_asks_for_the_nic():
    ip = FakeIp()
    _, runner = ip_runner("IPaddr::10.213.99.5", ip)  # only reachable through a gateway
    outcome = runner.start()
    assert not outcome.ok and "no connected route holds 10.213.99.5" in outcome.reason
    assert "IPaddr::10.213.99.5/<netmask>/<nic>" in outcome.reason
    assert ip.adds() == []


def test_ipaddr_stop_removes_wherever_it_is_and_is_idempotent():
    ip = FakeIp()
    ip.links["eth0"].append(("10.213.10.50", 23, "eth0:0"))  # added by hand with another mask
    _, runner = ip_runner("IPaddr::10.213.10.50/24/eth0", ip)
    outcome = runner.stop()
    assert outcome.ok, outcome.reason
    assert ["ip", "-4", "addr", "del", "10.213.10.50/23", "dev", "eth0"] in ip.calls
    assert not runner.status().ok
    assert runner.stop().ok and "not configured" in runner.stop().reason


def test_ipaddr_command_failure_is_reported_with_the_output():
    ip = FakeIp()
    ip.fail = ["ip", "-4", "addr", "add"]
    _, runner = ip_runner("IPaddr::10.213.10.50/24/eth0", ip)
    outcome = runner.start()
    assert not outcome.ok and "Operation not permitted" in outcome.reason


# ---------------------------------------------------------------------------- gratuitous ARP


def test_arp_frames_bytes():
    mac = bytes.fromhex("020000aabbcc")
    request = arp_frame(ARP_REQUEST, mac, "10.213.10.50")
    reply = arp_frame(ARP_REPLY, mac, "10.213.10.50")
    assert request.hex() == (
        "ffffffffffff"
        "020000aabbcc"
        "0806"  # Ethernet: broadcast, from the NIC, ARP
        "0001"
        "0800"
        "06"
        "04"
        "0001"  # htype 1, ptype IPv4, hlen 6, plen 4, op request
        "020000aabbcc"
        "0ad50a32"  # sender MAC, sender IP = VIP
        "000000000000"
        "0ad50a32"  # target MAC zero, target IP = VIP
    )
    assert reply.hex() == (
        "ffffffffffff020000aabbcc08060001080006040002020000aabbcc0ad50a32020000aabbcc0ad50a32"
    )
    with pytest.raises(ValueError):
        arp_frame(ARP_REQUEST, b"\x00" * 5, "10.0.0.1")


def test_announcer_sends_request_reply_pairs():
    link_frames = []

    def opener(nic):
        link = FakeLink(nic)
        link.frames = link_frames
        return link

    announcer = GarpAnnouncer("eth0", "10.213.10.50", ArpSettings(count=10, interval=0.0), opener)
    announcer.start()
    announcer.join(10)
    assert not announcer.running
    mac = bytes.fromhex("020000aabbcc")
    pair = [arp_frame(ARP_REQUEST, mac, "10.213.10.50"), arp_frame(ARP_REPLY, mac, "10.213.10.50")]
    assert link_frames == pair * 10
    assert announcer.frames_sent == 20


def test_announcer_paces_frames_and_cancel_stops_it():
    FakeLink.opened.clear()
    announcer = GarpAnnouncer("eth0", "10.213.10.50", ArpSettings(count=10, interval=30.0), FakeLink)
    announcer.start()
    for _ in range(1000):  # the first frame goes out at once, the next only after 30 s
        if FakeLink.opened and FakeLink.opened[0].frames:
            break
        threading.Event().wait(0.005)
    announcer.cancel(wait=10)
    assert not announcer.running
    assert len(FakeLink.opened[0].frames) == 1
    assert FakeLink.opened[0].closed.is_set()


def test_announcer_socket_error_is_a_warning_not_a_failure():
    logs = []

    def refuse(nic):
        raise PermissionError(1, "Operation not permitted")

    announcer = GarpAnnouncer(
        "eth0", "10.213.10.50", ArpSettings(), refuse, lambda lvl, text: logs.append((lvl, text))
    )
    announcer.start()
    announcer.join(10)
    assert logs and logs[0][0] == "warning" and "cannot send gratuitous ARP" in logs[0][1]


def test_start_announces_and_stop_cancels_the_announcement():
    FakeLink.opened.clear()
    ip = FakeIp()
    executor, runner = ip_runner("IPaddr::10.213.10.50/24/eth0", ip, ArpSettings(count=10, interval=30.0))
    assert runner.start().ok
    announcer = executor.announcers.get("10.213.10.50")
    assert announcer is not None and announcer.nic == "eth0"
    for _ in range(1000):
        if FakeLink.opened and FakeLink.opened[0].frames:
            break
        threading.Event().wait(0.005)
    assert runner.stop().ok
    assert executor.announcers.get("10.213.10.50") is None
    announcer.join(10)
    assert not announcer.running and len(FakeLink.opened[0].frames) < 20


def test_vip_network_helpers_agree_with_ipaddress():
    # the broadcast we compute is the network's, for any prefix up to /30
    ip = FakeIp()
    for bits in (8, 16, 23, 30):
        ip.links["eth0"] = [("10.213.10.11", 24, "eth0")]
        _, runner = ip_runner(f"IPaddr::10.213.10.50/{bits}/eth0", ip)
        assert runner.start().ok
        brd = ip.adds()[-1][ip.adds()[-1].index("brd") + 1]
        assert brd == str(ipaddress.ip_network(f"10.213.10.50/{bits}", strict=False).broadcast_address)


def test_first_announcement_is_on_the_wire_when_start_returns():
    """Make-before-break tells the giver to let go right after the taker's start: the first frame
    must not wait for a thread to be scheduled."""
    FakeLink.opened.clear()
    announcer = GarpAnnouncer("eth0", "10.213.10.50", ArpSettings(count=10, interval=30.0), FakeLink)
    announcer.start()
    assert len(FakeLink.opened[0].frames) == 1  # no waiting
    mac = bytes.fromhex("020000aabbcc")
    assert FakeLink.opened[0].frames[0] == arp_frame(ARP_REQUEST, mac, "10.213.10.50")
    announcer.cancel(wait=10)
    assert FakeLink.opened[0].closed.is_set()
