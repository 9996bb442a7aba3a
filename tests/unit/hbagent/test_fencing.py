"""fencing.py: which device, which command, and the retry-until-fenced machine (fake clock)."""

from hbagent.config import parse_ha_cf
from hbagent.fencing import RETRY_S, Fenced, Fencer, RunFence, fence_method
from hbagent.membership import Log
from hbagent.rscmgr import Send

BASE = "keepalive 1\ndeadtime 5\nbcast eth0\nnode web1 web2\n"


def method(extra, node="web2", fence_command=None):
    return fence_method(parse_ha_cf(BASE + extra, "/etc/ha.d/ha.cf"), fence_command, node)


def test_stonith_host_lines_for_this_node_or_star_the_last_one_wins():
    m = method("stonith_host * null web1 web2\nstonith_host web1 ssh web2\n")
    assert m.reset_argv("web1") == ["stonith", "-t", "null", "-p", "web1 web2", "-T", "reset", "web1"]
    assert m.status == ("stonith", "-t", "null", "-p", "web1 web2", "-S")
    assert m.origin == "/etc/ha.d/ha.cf:5"  # web1's line does not apply to web2
    assert method("stonith_host * null web1 web2\nstonith_host web1 ssh web2\n", node="web1").description == (
        "stonith -t ssh"
    )
    assert method("stonith_host web1 null web2\n") is None


def test_stonith_with_a_config_file():
    m = method("stonith external/ipmi /etc/ha.d/ipmi.cfg\n")
    assert m.reset_argv("web1") == [
        "stonith",
        "-t",
        "external/ipmi",
        "-F",
        "/etc/ha.d/ipmi.cfg",
        "-T",
        "reset",
        "web1",
    ]


def test_fence_command_wins_over_ha_cf_devices():
    m = method("stonith_host * null web1\n", fence_command=(["/usr/local/sbin/fence", "--hard"], "x:1"))
    assert m.reset_argv("web1") == ["/usr/local/sbin/fence", "--hard", "web1"] and m.status is None


def test_a_fence_that_works_clears_the_takeover_and_says_so_on_the_wire():
    fencer = Fencer(method("stonith_host * null web1 web2\n"))
    actions = fencer.fence("web1", 0.0)
    (run,) = [a for a in actions if isinstance(a, RunFence)]
    assert run.purpose == "reset" and run.argv[-1] == "web1"
    assert fencer.fence("web1", 0.1) == []  # already under way
    done = fencer.done("reset", True, 0, "exit code 0", 1.0)
    assert [dict(a.fields) for a in done if isinstance(a, Send)] == [
        {"t": "stonith", "node": "web1", "result": "OK"}
    ]
    assert Fenced("web1") in done and fencer.state == "fenced"


def test_a_failed_fence_is_retried_every_5_s_and_blocks_until_it_works():
    fencer = Fencer(method("stonith_host * ssh web9\n"))
    fencer.fence("web1", 0.0)
    failed = fencer.done("reset", False, 4, "exit code 4", 0.2)
    texts = [a.text for a in failed if isinstance(a, Log)]
    assert texts[0] == "Device stonith -t ssh cannot reset host web1."
    assert "STONITH of web1 failed.  Retrying..." in texts
    assert any("Takeover of web1's resources blocked until web1 is fenced" in t for t in texts)
    assert [dict(a.fields)["result"] for a in failed if isinstance(a, Send)] == ["badhost"]
    assert not any(isinstance(a, Fenced) for a in failed) and fencer.state == "failed"
    assert fencer.tick(0.2 + RETRY_S - 0.1) == []
    assert [a.purpose for a in fencer.tick(0.2 + RETRY_S) if isinstance(a, RunFence)] == ["reset"]
    assert fencer.attempts == 2
    assert Fenced("web1") in fencer.done("reset", True, 0, "", 6.0)


def test_a_peer_that_comes_back_is_not_fenced_any_more():
    fencer = Fencer(method("stonith_host * ssh web9\n"))
    fencer.fence("web1", 0.0)
    fencer.done("reset", False, 5, "exit code 5", 0.1)
    assert [a.text for a in fencer.cancel()] == ["Fencing of web1 no longer needed: it is alive."]
    assert fencer.tick(100.0) == []


def test_the_device_is_checked_at_comm_up_and_every_hour():
    fencer = Fencer(method("stonith_host * null web1 web2\n"))
    (_log, run) = fencer.comm_up(0.0)
    assert run.purpose == "status" and run.argv[-1] == "-S"
    assert fencer.tick(10.0) == []  # running
    broken = fencer.done("status", False, 1, "exit code 1", 1.0)
    assert broken[0].text.startswith("STONITH device [stonith -t null] not operational!")
    assert fencer.tick(1800.0) == []
    assert [a.purpose for a in fencer.tick(3600.0) if isinstance(a, RunFence)] == ["status"]


def test_nothing_configured_nothing_to_do():
    fencer = Fencer(None)
    assert not fencer.configured and fencer.fence("web1", 0.0) == [] and fencer.comm_up(0.0) == []
