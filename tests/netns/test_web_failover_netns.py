"""The lab's four cases with real agents, a real VIP and a real web service, seen by a client.

web1 and web2 run hbagent in namespaces on a bridge; haresources `web1 IPaddr::VIP/24/eth0 hakithttp`
where hakithttp is a resource.d script serving "It works! Principal" on web1 and "It works! Secondaire"
on web2. A client namespace GETs http://VIP/ every 100 ms (new connection, 1 s timeout). Where the VIP
is comes from `ip addr` in each namespace, never from the agents.
"""

import signal
import time

from netlab import between, describe, serving, start_web_pair

VIP = "10.213.30.50"
GROUP = f"IPaddr::{VIP}/24/eth0"
HARESOURCES = f"web1 {GROUP} hakithttp\n"
KEEPALIVE_S, DEADTIME_S = 0.25, 2
FAST = f"keepalive {int(KEEPALIVE_S * 1000)}ms\nwarntime 1\ndeadtime {DEADTIME_S}\ninitdead 4"
PRINCIPAL, SECONDAIRE = "It works! Principal", "It works! Secondaire"
MBB_CONF = f"# planned moves overlap: stateless web service only\nmake_before_break {GROUP}\n"
# generous bounds: a loaded 2-core machine; the benchmark measures the real numbers
MARGIN_S = 15


def web_lab(lab, agent_conf=None, timings=FAST):
    lab.build(["web1", "web2"], client=True)
    lab.configure("bcast eth0", timings, haresources=HARESOURCES, agent_conf=agent_conf)
    lab.agents["web1"].install_service(PRINCIPAL)
    lab.agents["web2"].install_service(SECONDAIRE)
    return lab.agents["web1"], lab.agents["web2"]


def one_holder(lab, expected):
    holders = lab.holders(VIP)
    assert holders == [expected], f"VIP holders: {holders}"


def test_four_cases(lab, wait_for):
    web1, web2 = web_lab(lab)
    start_web_pair(web1, web2, VIP, wait_for)
    probe = lab.probe(VIP, limit=120)
    try:
        # 1. both up: web1 holds the VIP and serves its page
        t1 = time.monotonic()
        assert wait_for(lambda: serving(probe.results(), t1, PRINCIPAL) is not None, timeout=10)
        one_holder(lab, "web1")
        status = web1.status()
        assert [(g["key"], g["held_by"], g["here"]) for g in status["groups"]] == [
            (GROUP, ["web1"], "running")
        ]
        verbose = web1.cl_status("rscstatus", "-v").stdout.splitlines()
        assert verbose == ["local", f"{GROUP}\tweb1\tweb1\trunning"]
        assert web2.cl_status("rscstatus", "-v").stdout.splitlines()[1] == f"{GROUP}\tweb1\tweb1\tstopped"

        # 2. web2 dies: nothing moves, no request fails
        t2 = time.monotonic()
        web2.signal(signal.SIGKILL)
        web2.process.wait(timeout=10)
        assert wait_for(lambda: web1.cl_status("nodestatus", "web2").stdout == "dead\n", timeout=MARGIN_S)
        time.sleep(1)
        window = between(probe.results(), t2)
        assert window and all(r.ok and r.body == PRINCIPAL for r in window), describe(window)
        one_holder(lab, "web1")
        refused = web1.hbagent("standby")
        assert refused.returncode == 1
        assert "hbagent standby all: refused: web2 is not alive" in refused.stderr
        web2.start(resources=True)
        assert wait_for(lambda: web1.cl_status("nodestatus", "web2").stdout == "active\n", timeout=30)
        assert wait_for(lambda: web2.rscstatus() == "local" and web1.rscstatus() == "local", timeout=30)
        one_holder(lab, "web1")

        # 3. web1 crashes (the agent is SIGKILLed, the machine takes its service and address along)
        t3 = time.monotonic()
        web1.signal(signal.SIGKILL)
        web1.crash_node(VIP)
        assert wait_for(lambda: serving(probe.results(), t3, SECONDAIRE) is not None,
                        timeout=DEADTIME_S + MARGIN_S), describe(between(probe.results(), t3))  # fmt: skip
        one_holder(lab, "web2")
        assert wait_for(lambda: web2.rscstatus() == "all", timeout=10)
        assert "node web1: is dead" in web2.log()

        # 4. web1 comes back: auto_failback on gives it its group back
        t4 = time.monotonic()
        web1.start(resources=True)
        assert wait_for(lambda: serving(probe.results(), t4, PRINCIPAL) is not None, timeout=MARGIN_S + 10)
        assert wait_for(lambda: web1.rscstatus() == "local" and web2.rscstatus() == "local", timeout=30)
        one_holder(lab, "web1")
        assert "Other node completed standby takeover of foreign resources." in web2.log()
    finally:
        results = probe.stop()
    assert results and results[-1].ok and results[-1].body == PRINCIPAL


def moved_without_loss(lab, probe, since, page, holder, wait_for):
    assert wait_for(lambda: serving(probe.results(), since, page) is not None, timeout=MARGIN_S + 10)
    time.sleep(0.5)  # a few probes more after the move
    window = between(probe.results(), since)
    assert window and all(r.ok for r in window), describe(window)
    one_holder(lab, holder)


def test_make_before_break_moves_lose_no_request(lab, wait_for):
    """With make_before_break on both nodes, planned moves overlap: not one probe fails during a
    standby, a takeover, a graceful stop (SIGTERM) or the automatic failback."""
    web1, web2 = web_lab(lab, agent_conf=MBB_CONF)
    start_web_pair(web1, web2, VIP, wait_for)
    probe = lab.probe(VIP, limit=120)
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: serving(probe.results(), t0, PRINCIPAL) is not None, timeout=10)
        assert web1.status()["groups"][0]["make_before_break"] is True

        # planned switchover: web1 goes standby, web2 serves
        t1 = time.monotonic()
        moved = web1.hbagent("standby", "all", "--wait", "30")
        assert moved.returncode == 0, moved.stderr
        assert "done, this node now holds none resources" in moved.stdout
        moved_without_loss(lab, probe, t1, SECONDAIRE, "web2", wait_for)
        assert wait_for(lambda: web2.rscstatus() == "all", timeout=10)
        assert "make-before-break" in web2.log()

        # and back: web1 takes its group over
        t2 = time.monotonic()
        moved = web1.hbagent("takeover", "failback", "--wait", "30")
        assert moved.returncode == 0, moved.stderr
        moved_without_loss(lab, probe, t2, PRINCIPAL, "web1", wait_for)

        # graceful stop of the holder: it hands the group over before it leaves
        t3 = time.monotonic()
        web1.signal(signal.SIGTERM)
        assert web1.process.wait(timeout=60) == 0
        moved_without_loss(lab, probe, t3, SECONDAIRE, "web2", wait_for)
        assert "Received shutdown notice from 'web1'." in web2.log()

        # web1 returns: automatic failback, again without a lost request
        t4 = time.monotonic()
        web1.start(resources=True)
        moved_without_loss(lab, probe, t4, PRINCIPAL, "web1", wait_for)
        assert wait_for(lambda: web1.rscstatus() == "local" and web2.rscstatus() == "local", timeout=30)
        # the services stopped where they no longer hold the address
        assert (
            web2.ns(str(web2.config_dir / "resource.d" / "hakithttp"), "status", check=False).returncode == 3
        )
    finally:
        probe.stop()


def test_sigterm_hands_resources_to_the_peer_before_exit(lab, wait_for):
    """Without make-before-break: 3.0.6's graceful stop (release, shutdone); the peer takes over on the
    shutdone, long before the deadtime would have told it."""
    slow_death = "keepalive 250ms\nwarntime 4\ndeadtime 8\ninitdead 8"
    web1, web2 = web_lab(lab, timings=slow_death)
    start_web_pair(web1, web2, VIP, wait_for)
    start = time.monotonic()
    web1.signal(signal.SIGTERM)
    assert wait_for(lambda: web2.has_address(VIP), timeout=20), web2.log()
    took = time.monotonic() - start
    assert "node web1: is dead" not in web2.log()  # the shutdone did it, not the death detection
    assert web1.process.wait(timeout=30) == 0
    assert took < 8  # deadtime
    assert not web1.has_address(VIP)
    assert wait_for(lambda: lab.get(VIP) == SECONDAIRE, timeout=10)
    log1, log2 = web1.log(), web2.log()
    assert "All HA resources relinquished." in log1 and "Heartbeat shutdown complete." in log1
    assert "Received shutdown notice from 'web1'." in log2
    assert "node web1: is dead" not in log2
    assert wait_for(lambda: web2.rscstatus() == "all", timeout=10)
