"""resources: group order and failure handling (fake resources), resolution of a haresources word,
service/script/OCF runners (fake commands), and the real subprocess runner."""

import os
import signal
import sys
import time

import pytest
from hbrsc_sim import group

from hbagent.config import Resource
from hbagent.resources import (
    CommandResult,
    IPaddrRunner,
    OcfRunner,
    Outcome,
    Paths,
    ResourceError,
    ResourceExecutor,
    ResourceRunner,
    ScriptRunner,
    ServiceRunner,
    heartbeat_status_text,
    run_command,
)

# ---------------------------------------------------------------------------- groups with fakes


class FakeResource(ResourceRunner):
    def __init__(self, world, word):
        self.world, self.word = world, word

    def start(self):
        self.world.log.append(("start", self.word))
        if self.word in self.world.fail_start:
            self.world.running.add(self.word)  # half started: something is left behind
            return Outcome(False, "exit code 1: could not bind")
        self.world.running.add(self.word)
        return Outcome(True, "ok")

    def stop(self):
        self.world.log.append(("stop", self.word))
        if self.world.stop_failures.get(self.word, 0) > 0:
            self.world.stop_failures[self.word] -= 1
            return Outcome(False, "exit code 1")
        self.world.running.discard(self.word)
        return Outcome(True, "ok")

    def status(self):
        return Outcome(self.word in self.world.running, "")


class World:
    def __init__(self):
        self.log, self.running, self.fail_start, self.stop_failures = [], set(), set(), {}
        self.messages, self.sleeps = [], []

    def executor(self, **kw):
        return ResourceExecutor(
            runner_factory=lambda resource: FakeResource(self, resource.word),
            log=lambda level, text: self.messages.append((level, text)),
            sleep=self.sleeps.append,
            **kw,
        )


WEB = group("web1", "IPaddr::10.0.0.50/24/eth0", "Filesystem::/dev/sdb1::/srv::ext4", "apache2")


def test_group_starts_in_line_order_and_stops_in_reverse():
    world = World()
    executor = world.executor()
    assert executor.start_group(WEB).ok
    assert world.log == [("start", r.word) for r in WEB.resources]
    world.log.clear()
    assert executor.stop_group(WEB).ok
    assert world.log == [("stop", r.word) for r in reversed(WEB.resources)]
    assert world.running == set()


def test_running_resources_are_not_started_again():
    world = World()
    world.running.add("apache2")
    result = world.executor().start_group(WEB)
    assert result.ok
    assert ("start", "apache2") not in world.log
    assert executor_status(world) == "ALL"


def executor_status(world):
    return world.executor().group_status(WEB)


def test_failed_start_gives_up_what_it_holds_in_reverse():
    world = World()
    world.fail_start.add("Filesystem::/dev/sdb1::/srv::ext4")
    result = world.executor().start_group(WEB)
    assert not result.ok and result.reason.startswith("Filesystem::/dev/sdb1::/srv::ext4: exit code 1")
    assert world.log == [
        ("start", "IPaddr::10.0.0.50/24/eth0"),
        ("start", "Filesystem::/dev/sdb1::/srv::ext4"),
        ("stop", "Filesystem::/dev/sdb1::/srv::ext4"),
        ("stop", "IPaddr::10.0.0.50/24/eth0"),
    ]
    assert world.running == set()
    assert (
        "critical",
        "Giving up resources due to failure of Filesystem::/dev/sdb1::/srv::ext4",
    ) in world.messages
    assert executor_status(world) == "NONE"


def test_failed_stop_is_retried_then_succeeds():
    world = World()
    executor = world.executor()
    executor.start_group(WEB)
    world.stop_failures["apache2"] = 3
    result = executor.stop_group(WEB)
    assert result.ok
    assert world.log.count(("stop", "apache2")) == 4
    assert world.sleeps == [1.0, 1.0, 1.0]
    assert world.messages.count(("info", "Retrying failed stop operation [apache2]")) == 3


def test_stop_failure_is_bounded_and_reported_while_the_rest_is_still_stopped():
    world = World()
    executor = world.executor(stop_retries=10)
    executor.start_group(WEB)
    world.stop_failures["apache2"] = 1000
    result = executor.stop_group(WEB)
    assert not result.ok and "apache2: STOP failure after 10 retries" in result.reason
    assert world.log.count(("stop", "apache2")) == 11  # first try + 10 retries, as HA_STOPRETRYMAX
    assert ("stop", "IPaddr::10.0.0.50/24/eth0") in world.log  # the VIP still goes away
    assert world.running == {"apache2"}
    assert any(level == "critical" and "STOP failure for apache2" in text for level, text in world.messages)


def test_stop_that_fails_on_a_stopped_resource_is_forgiven():
    world = World()
    world.stop_failures["apache2"] = 1000  # not LSB compliant: stop fails when already stopped
    result = world.executor(stop_retries=2).stop_group(WEB)
    assert result.ok
    assert any("probably not LSB-compliant" in text for _, text in world.messages)


@pytest.mark.parametrize(
    ("part", "started"),
    [
        ("all", ["IPaddr::10.0.0.50/24/eth0", "Filesystem::/dev/sdb1::/srv::ext4", "apache2"]),
        ("non_ip", ["Filesystem::/dev/sdb1::/srv::ext4", "apache2"]),
        ("ip", ["IPaddr::10.0.0.50/24/eth0"]),
    ],
)
def test_group_parts(part, started):
    world = World()
    executor = world.executor()
    assert executor.start_group(WEB, part).ok
    assert [w for op, w in world.log if op == "start"] == started
    world.log.clear()
    assert executor.stop_group(WEB, part).ok
    assert [w for op, w in world.log if op == "stop"] == list(reversed(started))
    with pytest.raises(ValueError, match="unknown group part"):
        executor.start_group(WEB, "some")


def test_bare_ip_word_is_an_ip_resource_for_parts():
    world = World()
    bare = group("web1", "10.0.0.50", "apache2")
    world.executor().start_group(bare, "non_ip")
    assert world.log == [("start", "apache2")]


# ---------------------------------------------------------------------------- resolution


class FakeCommands:
    """Scripted command results, recorded."""

    def __init__(self, results=None):
        self.results = results or {}
        self.calls = []

    def __call__(self, argv, timeout, env=None):
        self.calls.append((list(argv), env))
        for prefix, result in self.results.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return result
        return CommandResult(0, "")


def resolver(executables=(), systemd=True, commands=None):
    commands = commands or FakeCommands()
    executor = ResourceExecutor(
        commands,
        is_executable=lambda path: path in executables,
        systemd_booted=lambda: systemd,
        log=lambda level, text: None,
        sleep=lambda s: None,
    )
    return executor, commands


def resource(word):
    if "::" in word:
        name, *args = word.split("::")
    else:
        name, args = word, []
    return Resource(word, name, args)


def test_resolution_order():
    paths = Paths()
    executor, _ = resolver(
        executables={
            f"{paths.resource_d}/Filesystem",
            f"{paths.ocf_heartbeat}/Filesystem",
            f"{paths.ocf_heartbeat}/apache",
        }
    )
    assert isinstance(executor.runner_for(resource("IPaddr::10.0.0.5/24")), IPaddrRunner)
    assert isinstance(executor.runner_for(Resource("10.0.0.5", "10.0.0.5", [])), IPaddrRunner)
    assert isinstance(
        executor.runner_for(resource("Filesystem::/dev/sdb1::/srv")), ScriptRunner
    )  # resource.d first
    assert isinstance(
        executor.runner_for(resource("apache::configfile=/etc/apache2/apache2.conf")), OcfRunner
    )
    assert isinstance(executor.runner_for(resource("apache2")), ServiceRunner)


def test_a_bare_word_naming_an_ocf_agent_is_the_init_script_as_in_3_0_6():
    """3.0.6 looks in resource.d, then /etc/init.d: `apache` alone never runs the OCF agent (without its
    parameters); the parameters ask for it."""
    paths = Paths()
    executor, commands = resolver(executables={f"{paths.ocf_heartbeat}/apache", f"{paths.init_d}/apache"})
    runner = executor.runner_for(resource("apache"))
    assert isinstance(runner, ServiceRunner)
    runner.start()
    assert commands.calls[-1][0] == [f"{paths.init_d}/apache", "start"]
    assert isinstance(executor.runner_for(resource("apache::port=8080")), OcfRunner)


def test_a_bare_word_with_only_an_ocf_agent_says_how_to_ask_for_it():
    paths = Paths()
    executor, _ = resolver(executables={f"{paths.ocf_heartbeat}/Dummy"})
    outcome = executor.runner_for(resource("Dummy")).start()
    assert not outcome.ok
    assert f"there is an OCF agent {paths.ocf_heartbeat}/Dummy (write Dummy::<name>=<value> to run it)" in (
        outcome.reason
    )


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        ("IPaddr::10.0.0.5::eth0", "takes one argument"),
        ("IPaddr", "takes one argument"),
        ("IPaddr::10.0.0.5/99", "out of range"),
        ("Frobnicate::x", "no executable /etc/ha.d/resource.d/Frobnicate nor OCF agent"),
        ("apache::/etc/apache2.conf", "must be name=value"),
        ("../../bin/sh", "invalid resource name"),
    ],
)
def test_resolution_errors(word, problem):
    executor, _ = resolver(executables={f"{Paths().ocf_heartbeat}/apache"})
    with pytest.raises(ResourceError, match=problem):
        executor.runner_for(resource(word))


def test_unresolvable_resource_fails_the_group_cleanly():
    executor, commands = resolver()
    result = executor.start_group(group("web1", "IPaddr::10.0.0.5/24/eth0:1", "apache2"))
    assert not result.ok and "labels: IPaddr2" in result.reason
    assert commands.calls == []


# ---------------------------------------------------------------------------- services


def test_service_through_systemd():
    commands = FakeCommands({("systemctl", "show"): CommandResult(0, "loaded\n")})
    executor, _ = resolver(commands=commands)
    runner = executor.runner_for(resource("apache2"))
    assert runner.start().ok
    assert runner.stop().ok
    commands.results[("systemctl", "is-active")] = CommandResult(3, "inactive\n")
    status = runner.status()
    assert not status.ok and "inactive" in status.reason
    actions = [argv for argv, _ in commands.calls if argv[1] != "show"]
    assert actions == [
        ["systemctl", "start", "apache2.service"],
        ["systemctl", "stop", "apache2.service"],
        ["systemctl", "is-active", "apache2.service"],
    ]


def test_service_falls_back_to_lsb_when_systemd_does_not_know_it():
    commands = FakeCommands({("systemctl", "show"): CommandResult(0, "not-found\n")})
    executor, _ = resolver(executables={"/etc/init.d/legacyd"}, commands=commands)
    runner = executor.runner_for(resource("legacyd"))
    assert runner.start().ok
    assert commands.calls[-1][0] == ["/etc/init.d/legacyd", "start"]


def test_service_lsb_without_systemd_and_status_exit_codes():
    commands = FakeCommands({("/etc/init.d/apache2", "status"): CommandResult(3, "apache2 is not running\n")})
    executor, _ = resolver(executables={"/etc/init.d/apache2"}, systemd=False, commands=commands)
    runner = executor.runner_for(resource("apache2"))
    assert not runner.status().ok
    commands.results[("/etc/init.d/apache2", "status")] = CommandResult(0, "apache2 is running\n")
    assert runner.status().ok
    assert all(argv[0] != "systemctl" for argv, _ in commands.calls)


def test_service_nowhere_is_a_clear_failure():
    commands = FakeCommands({("systemctl", "show"): CommandResult(0, "not-found\n")})
    executor, _ = resolver(commands=commands)
    outcome = executor.runner_for(resource("nosuchd")).start()
    assert (
        not outcome.ok and outcome.reason == "nosuchd: no systemd unit and no executable /etc/init.d/nosuchd"
    )


def test_service_start_failure_carries_the_output():
    commands = FakeCommands(
        {
            ("systemctl", "show"): CommandResult(0, "loaded\n"),
            ("systemctl", "start"): CommandResult(1, "Job for apache2.service failed.\n"),
        }
    )
    executor, _ = resolver(commands=commands)
    outcome = executor.runner_for(resource("apache2")).start()
    assert not outcome.ok and "exit code 1: Job for apache2.service failed." in outcome.reason


# ---------------------------------------------------------------------------- resource.d and OCF


def test_resource_d_script_gets_its_arguments_then_the_action():
    script = f"{Paths().resource_d}/Filesystem"
    commands = FakeCommands({(script,): CommandResult(0, "")})
    executor, _ = resolver(executables={script}, commands=commands)
    runner = executor.runner_for(resource("Filesystem::/dev/sdb1::/srv::ext4"))
    runner.start()
    runner.stop()
    assert [argv for argv, _ in commands.calls] == [
        [script, "/dev/sdb1", "/srv", "ext4", "start"],
        [script, "/dev/sdb1", "/srv", "ext4", "stop"],
    ]


@pytest.mark.parametrize(
    ("output", "running"),
    [
        ("INFO:  Running OK\n", True),
        ("running\n", True),
        ("OK", True),
        ("Filesystem is not running\n", False),
        ("apache2 NOT running", False),
        ("stopped\n", False),
        ("", False),
    ],
)
def test_resource_d_status_is_read_from_the_text_like_heartbeat(output, running):
    assert heartbeat_status_text(output) is running


def test_ocf_agent_environment_and_exit_codes():
    agent = f"{Paths().ocf_heartbeat}/apache"
    commands = FakeCommands({(agent, "monitor"): CommandResult(7, "")})
    executor, _ = resolver(executables={agent}, commands=commands)
    runner = executor.runner_for(resource("apache::configfile=/etc/apache2/apache2.conf::port=8080"))
    assert not runner.status().ok
    commands.results[(agent, "monitor")] = CommandResult(0, "")
    assert runner.status().ok
    commands.results[(agent, "monitor")] = CommandResult(5, "not installed")
    status = runner.status()
    assert not status.ok and "exit code 5" in status.reason
    assert runner.start().ok
    argv, env = commands.calls[-1]
    assert argv == [agent, "start"]
    assert env["OCF_ROOT"] == "/usr/lib/ocf"
    assert env["OCF_RESKEY_configfile"] == "/etc/apache2/apache2.conf"
    assert env["OCF_RESKEY_port"] == "8080"
    assert env["OCF_RESOURCE_TYPE"] == "apache"
    assert env["LC_ALL"] == "C"


# ---------------------------------------------------------------------------- the real runner


def test_run_command_output_and_exit_code():
    res = run_command([sys.executable, "-c", "import sys; print('hello'); sys.exit(3)"], 30)
    assert res.returncode == 3 and res.output.strip() == "hello"
    assert res.describe() == "exit code 3: hello"


def test_run_command_timeout_kills_the_process_group():
    started = time.monotonic()
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    res = run_command([sys.executable, "-c", code], 0.5)
    assert res.returncode is None and "timed out after 0.5s" in res.error
    assert time.monotonic() - started < 30  # generous: the child was killed, not waited for


def test_run_command_does_not_wait_for_daemons_holding_stdout():
    # an init script that leaves a daemon with our stdout must not block us until the daemon exits
    code = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True); "
        "print('started', p.pid)"
    )
    started = time.monotonic()
    res = run_command([sys.executable, "-c", code], 120)
    elapsed = time.monotonic() - started
    daemon_pid = int(res.output.split()[-1])
    os.kill(daemon_pid, signal.SIGKILL)  # our own leftover "daemon"
    assert res.returncode == 0 and res.output.startswith("started")
    assert elapsed < 50


def test_run_command_missing_program():
    res = run_command(["/nonexistent/hbagent-test-program"], 5)
    assert res.returncode is None and "cannot run /nonexistent/hbagent-test-program" in res.error
