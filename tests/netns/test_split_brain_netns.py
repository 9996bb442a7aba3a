"""Split brain with real agents, a real VIP and a client: a healed partition ends with one holder, a lost
uplink moves the service, one lost link of two changes nothing, fencing gates the takeover.

Heartbeat UDP is cut with nftables inside a node's namespace (both ways); where the VIP is comes from
`ip monitor address` in each namespace (netlab.HolderMonitor), never from the agents. Timing figures are
measured by bench/split_brain_bench.py; the bounds here are generous (a loaded 2-core machine).
"""

import shutil
import signal
import time

import pytest
from netlab import PING_ADDRESS, HolderMonitor, between, describe, serving, start_web_pair

VIP = "10.213.30.50"
GROUP = f"IPaddr::{VIP}/24/eth0"
HARESOURCES = f"web1 {GROUP} hakithttp\n"
TIMINGS = (
    "keepalive 500ms\nwarntime 1\ndeadtime 3\ninitdead 6"  # the lab: keepalive 500ms, deadtime 3
)
PRINCIPAL, SECONDAIRE = "It works! Principal", "It works! Secondaire"
MARGIN_S = 20


def web_lab(lab, media="bcast eth0", timings=TIMINGS, auto_failback="on", extra="", agent_conf=None,
            client=True, network2=False):  # fmt: skip
    lab.build(["web1", "web2"], client=client)
    if network2:
        lab.add_network()
    lab.configure(media, timings + ("\n" + extra if extra else ""), haresources=HARESOURCES,
                  auto_failback=auto_failback, agent_conf=agent_conf)  # fmt: skip
    lab.agents["web1"].install_service(PRINCIPAL)
    lab.agents["web2"].install_service(SECONDAIRE)
    return lab.agents["web1"], lab.agents["web2"]


def test_a_healed_partition_ends_with_one_holder_and_never_none(lab, wait_for):
    web1, web2 = web_lab(lab)
    start_web_pair(web1, web2, VIP, wait_for)
    monitor = HolderMonitor(lab, VIP)
    probe = lab.probe(VIP, limit=180)
    try:
        web1.cut_heartbeat()  # both ways: each node loses the other
        assert wait_for(lambda: lab.holders(VIP) == ["web1", "web2"], timeout=MARGIN_S), (
            "web2 never took over"
        )
        time.sleep(2)
        heal = time.monotonic()
        web1.restore_heartbeat()
        assert wait_for(lambda: lab.holders(VIP) == ["web1"], timeout=MARGIN_S), lab.holders(VIP)
        time.sleep(3)
        assert lab.holders(VIP) == ["web1"]  # and it stays so
        after = monitor.seconds(heal, time.monotonic())
        assert after["none"] == 0.0, monitor.timeline()  # the keeper never let go
        assert 0 < after["dual"] < MARGIN_S
        for agent in (web1, web2):
            assert "Partition heal with" in agent.log() and "web1's resources stay on web1" in agent.log()
        assert "partition heal (web1 keeps them): giving up foreign HA resources." in web2.log()
        assert wait_for(lambda: web1.rscstatus() == "local" and web2.rscstatus() == "local", timeout=10)
        # the client is served by web1 again (its ARP cache may have pointed to web2)
        t = time.monotonic()
        assert wait_for(lambda: serving(probe.results(), t, PRINCIPAL) is not None, timeout=10)
        time.sleep(1)
        window = between(probe.results(), t + 1)
        assert window and all(r.ok and r.body == PRINCIPAL for r in window), describe(window)
        groups = web2.status()["groups"]
        assert [(g["held_by"], g["here"]) for g in groups] == [(["web1"], "stopped")]
    finally:
        probe.stop()
        monitor.close()


# ---------------------------------------------------------------------------------------------
# uplink tiebreak: ping nodes


PING = f"ping {PING_ADDRESS}\ndeadping 2"


def ping_lab(lab, wait_for):
    web1, web2 = web_lab(lab, extra=PING)
    lab.add_host("gw")  # the ping node: a bare namespace, its kernel answers
    start_web_pair(web1, web2, VIP, wait_for)
    for agent in (web1, web2):
        assert wait_for(
            lambda a=agent: a.cl_status("nodestatus", PING_ADDRESS).stdout == "ping\n", timeout=10
        )
    return web1, web2


def test_ping_nodes_are_nodes_of_type_ping_as_in_3_0_6(lab, wait_for):
    web1, _web2 = ping_lab(lab, wait_for)
    assert web1.cl_status("listnodes").stdout == f"web2\nweb1\n{PING_ADDRESS}\n"  # reverse of ha.cf order
    assert web1.cl_status("listnodes", "-p").stdout == f"{PING_ADDRESS}\n"
    assert web1.cl_status("listnodes", "-n").stdout == "web2\nweb1\n"
    assert web1.cl_status("nodetype", PING_ADDRESS).stdout == "ping\n"
    assert web1.cl_status("listhblinks", "-v", PING_ADDRESS).stdout == f"\t{PING_ADDRESS}\tup\n"
    status = web1.cl_status("nodestatus", PING_ADDRESS)
    assert (status.returncode, status.stdout) == (0, "ping\n")
    web1.cut_from(PING_ADDRESS)
    assert wait_for(lambda: web1.cl_status("nodestatus", PING_ADDRESS).stdout == "dead\n", timeout=MARGIN_S)
    assert web1.cl_status("nodestatus", PING_ADDRESS).returncode == 1
    assert f"node {PING_ADDRESS}: is dead" in web1.log()


def test_uplink_loss_moves_the_group_to_the_node_that_still_reaches_the_ping_node(lab, wait_for):
    web1, web2 = ping_lab(lab, wait_for)
    probe = lab.probe(VIP, limit=180)
    try:
        cut = time.monotonic()
        web1.cut_from(PING_ADDRESS)  # web1 keeps its heartbeat link and its clients, loses its uplink
        assert wait_for(lambda: lab.holders(VIP) == ["web2"], timeout=MARGIN_S), web1.log()[-3000:]
        moved = time.monotonic() - cut
        assert moved < MARGIN_S
        assert "Giving up all resources: this node reaches 0 of 1 ping nodes, web2 reaches 1" in web1.log()
        assert wait_for(lambda: web2.rscstatus() == "all", timeout=10)
        t = time.monotonic()
        assert wait_for(lambda: serving(probe.results(), t, SECONDAIRE) is not None, timeout=10)
        # the uplink comes back: balanced again, auto_failback on gives web1 its group back
        web1.restore_to(PING_ADDRESS)
        assert wait_for(lambda: lab.holders(VIP) == ["web1"], timeout=MARGIN_S), web2.log()[-3000:]
        assert "ping nodes balanced again" in web2.log()
        assert wait_for(lambda: web1.rscstatus() == "local" and web2.rscstatus() == "local", timeout=10)
    finally:
        probe.stop()


def test_a_node_that_reaches_no_ping_node_never_takes_over_from_a_peer_that_does(lab, wait_for):
    _web1, web2 = ping_lab(lab, wait_for)
    monitor = HolderMonitor(lab, VIP)
    try:
        web2.cut_heartbeat()  # web2 is cut off from everything: web1 and the ping node
        web2.cut_from(PING_ADDRESS)
        assert wait_for(lambda: web2.cl_status("nodestatus", "web1").stdout == "dead\n", timeout=MARGIN_S)
        time.sleep(4)  # well past deadtime: a plain 3.0.6 pair would have two holders by now
        assert lab.holders(VIP) == ["web1"]
        assert (
            "Takeover of web1's resources blocked: this node reaches none of its 1 ping nodes" in web2.log()
        )
        assert "TAKEOVER BLOCKED" in web2.status_line()
        # web2's uplink comes back while web1 is still silent: web2 takes over, as 3.0.6 would
        web2.restore_to(PING_ADDRESS)
        assert wait_for(lambda: "web2" in lab.holders(VIP), timeout=MARGIN_S)
        heal = time.monotonic()
        web2.restore_heartbeat()  # and the partition heals: one holder again, never none
        assert wait_for(lambda: lab.holders(VIP) == ["web1"], timeout=MARGIN_S)
        assert monitor.seconds(heal, time.monotonic())["none"] == 0.0
    finally:
        monitor.close()


# ---------------------------------------------------------------------------------------------
# redundant links


def test_losing_one_of_two_heartbeat_links_changes_nothing(lab, wait_for):
    web1, web2 = web_lab(lab, media="bcast eth0\nbcast eth1", network2=True)
    start_web_pair(web1, web2, VIP, wait_for)
    monitor = HolderMonitor(lab, VIP)
    probe = lab.probe(VIP, limit=180)
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: serving(probe.results(), t0, PRINCIPAL) is not None, timeout=10)
        logged = {agent.name: len(agent.log()) for agent in (web1, web2)}
        for dev in ("eth1", "eth0"):  # the dedicated link, then the service network's heartbeat
            web1.cut_heartbeat(dev)
            assert wait_for(lambda d=dev: web1.cl_status("hblinkstatus", "web2", d).stdout == "dead\n",
                            timeout=MARGIN_S)  # fmt: skip
            time.sleep(3)  # = deadtime: the other link keeps the peer alive
            assert web1.cl_status("nodestatus", "web2").stdout == "active\n"
            assert web2.cl_status("nodestatus", "web1").stdout == "active\n"
            web1.restore_heartbeat(dev)
            assert wait_for(
                lambda d=dev: web1.cl_status("hblinkstatus", "web2", d).stdout == "up\n", timeout=10
            )
        window = between(probe.results(), t0)
        assert window and all(r.ok and r.body == PRINCIPAL for r in window), describe(window)
        assert [h for _t, h in monitor.timeline()] == [("web1",)]
        assert "is dead" not in web1.log()[logged["web1"] :] + web2.log()[logged["web2"] :]
    finally:
        probe.stop()
        monitor.close()


def test_losing_both_links_is_a_partition_that_heals_to_one_holder(lab, wait_for):
    web1, web2 = web_lab(lab, media="bcast eth0\nbcast eth1", network2=True, client=False)
    start_web_pair(web1, web2, VIP, wait_for)
    monitor = HolderMonitor(lab, VIP)
    try:
        web1.cut_heartbeat()
        assert wait_for(lambda: lab.holders(VIP) == ["web1", "web2"], timeout=MARGIN_S)
        heal = time.monotonic()
        web1.restore_heartbeat()
        assert wait_for(lambda: lab.holders(VIP) == ["web1"], timeout=MARGIN_S)
        assert monitor.seconds(heal, time.monotonic())["none"] == 0.0
    finally:
        monitor.close()


# ---------------------------------------------------------------------------------------------
# fencing: cluster-glue's `stonith` tool and its test plugins, or an agent-only fence_command

needs_stonith = pytest.mark.skipif(shutil.which("stonith") is None,
                                   reason="cluster-glue's stonith tool is not installed (scripts/host-setup.sh)")  # fmt: skip


def crash(agent):
    agent.signal(signal.SIGKILL)
    agent.process.wait(timeout=10)
    agent.crash_node(VIP)


@needs_stonith
def test_takeover_waits_for_a_successful_fence_with_the_null_plugin(lab, wait_for):
    web1, web2 = web_lab(lab, extra="stonith_host * null web1 web2", client=False)
    start_web_pair(web1, web2, VIP, wait_for)
    assert "Checking status of STONITH device [stonith -t null]" in web2.log()
    crash(web1)
    assert wait_for(lambda: lab.holders(VIP) == ["web2"], timeout=MARGIN_S), web2.log()[-3000:]
    log = web2.log()
    fenced = log.index("node web1 now reset.")
    assert (
        log.index("Resetting node web1 with [stonith -t null]")
        < fenced
        < log.index("Resources being acquired")
    )
    assert "No STONITH device configured." not in log[fenced:]


@needs_stonith
def test_a_failed_fence_blocks_the_takeover_and_says_so(lab, wait_for):
    # the ssh plugin refuses a host outside its host list at once (S_BADHOST): no ssh is ever run.
    # web1 has no device (it starts alone and takes its group unfenced, as 3.0.6 without one)
    web1, web2 = web_lab(lab, extra="stonith_host web2 ssh nonode", client=False)  # web2 only
    start_web_pair(web1, web2, VIP, wait_for)
    crash(web1)
    assert wait_for(lambda: "STONITH of web1 failed.  Retrying..." in web2.log(), timeout=MARGIN_S)
    assert wait_for(lambda: web2.log().count("Resetting node web1") >= 2, timeout=15)  # retried every 5 s
    assert lab.holders(VIP) == []
    assert "Device stonith -t ssh cannot reset host web1." in web2.log()
    assert "Takeover of web1's resources blocked until web1 is fenced" in web2.log()
    status = web2.status()
    assert status["split_brain"]["fencing"]["state"] == "failed"
    assert "TAKEOVER BLOCKED: fencing web1 failed" in status["summary"]
    assert "TAKEOVER BLOCKED: fencing web1 failed" in web2.hbagent("status").stdout
    # the peer comes back instead: no takeover, no more attempts
    web1.start(resources=True)
    assert wait_for(lambda: web1.has_address(VIP) and web2.rscstatus() == "local", timeout=MARGIN_S)
    assert "Fencing of web1 no longer needed: it is alive." in web2.log()
    assert lab.holders(VIP) == ["web1"]


FENCE_SCRIPT = """#!/bin/sh
# fails twice, then fences: records every call
echo "$*" >> "{calls}"
[ "$(wc -l < "{calls}")" -ge 3 ]
"""


def test_fence_command_is_retried_until_it_fences(lab, wait_for):
    calls = lab.tmp / "fence-calls"
    script = lab.tmp / "fence-peer"
    script.write_text(FENCE_SCRIPT.format(calls=calls))
    script.chmod(0o755)
    web1, web2 = web_lab(lab, client=False)
    (web2.config_dir / "hbagent.conf").write_text(f"fence_command {script} --hard\n")  # web2 only
    start_web_pair(web1, web2, VIP, wait_for)
    crash(web1)
    assert wait_for(lambda: lab.holders(VIP) == ["web2"], timeout=MARGIN_S + 15), web2.log()[-3000:]
    assert calls.read_text().splitlines() == ["--hard web1"] * 3
    assert web2.log().count("STONITH of web1 failed.  Retrying...") == 2


# ---------------------------------------------------------------------------------------------
# a resource that will not stop: opt-in reboot, as 3.0.6

STUBBORN = """#!/bin/sh
# starts, never stops
case "$1" in start) touch "{flag}";; stop) exit 1;; status) [ -e "{flag}" ] && echo running || echo stopped;; esac
"""
REBOOT = """#!/bin/sh
echo "reboot $*" > "{marker}"
"""


def test_a_stop_failure_with_stop_failure_reboot_reboots_and_the_peer_takes_over(lab, wait_for):
    lab.build(["web1", "web2"])
    marker = lab.tmp / "rebooted"
    reboot = lab.tmp / "reboot"
    reboot.write_text(REBOOT.format(marker=marker))
    reboot.chmod(0o755)
    lab.configure("bcast eth0", TIMINGS, haresources=f"web1 {GROUP} stubborn\n",
                  agent_conf=f"stop_failure reboot {reboot} -n -f\n")  # fmt: skip
    for agent in lab.agents.values():
        script = agent.config_dir / "resource.d" / "stubborn"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(STUBBORN.format(flag=agent.dir / "stubborn.on"))
        script.chmod(0o755)
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    start_web_pair(web1, web2, VIP, wait_for)
    assert web1.hbagent("standby").returncode == 0  # the release fails after 10 retries (1 s apart)
    assert wait_for(marker.exists, timeout=MARGIN_S + 15), web1.log()[-3000:]
    assert marker.read_text() == "reboot -n -f\n"
    assert web1.process.wait(timeout=10) == 3
    log = web1.log()
    assert "Resource STOP failure (IPaddr::10.213.30.50/24/eth0). Reboot required!" in log
    assert "Killing hbagent ungracefully!" in log
    assert wait_for(
        lambda: lab.holders(VIP) == ["web2"], timeout=MARGIN_S
    )  # web1 went silent: web2 took over
