"""hakit.heartbeat.content_sync: the role's input checks and resource helper (module_utils/content_sync.py),
and the node tool (roles/content_sync/files/content_sync.py): the takeover rule, the forced command's
checks, the resource's start/stop/status against a fake system, the preflight's reachability check."""

import importlib.util
import json
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOL = ROOT / "roles" / "content_sync" / "files" / "content_sync.py"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


cs = _load("content_sync_utils_standalone", ROOT / "plugins" / "module_utils" / "content_sync.py")
tool = _load("content_sync_tool_standalone", TOOL)

WEB_GROUP = {
    "node": "web1",
    "resources": [
        {"type": "IPaddr", "address": "10.0.0.50", "cidr": 24, "interface": "eth0"},
        {"type": "service", "name": "apache2"},
    ],
}


# -- directories, patterns, groups (module_utils) ---------------------------------------------------


def test_a_web_root_and_a_directory_under_srv_are_accepted():
    assert cs.directory_problems(["/var/www/html", "/srv/site/htdocs", "/home/web/public"]) == []


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/etc/apache2", "lies inside the system directory /etc"),
        ("/usr/share/nginx/html", "lies inside the system directory /usr"),
        ("/var/log", "is the system directory /var/log"),
        (
            "/var/lib/hakit-content-sync/backup",
            "lies inside the system directory /var/lib/hakit-content-sync",
        ),
        ("/var", "is a system directory holding unrelated data"),
        ("/", "is a system directory holding unrelated data"),
        ("/srv", "is a system directory holding unrelated data"),
    ],
)
def test_system_directories_and_whole_roots_are_refused(path, words):
    problems = cs.directory_problems([path])
    assert (
        len(problems) == 1
        and problems[0].startswith("content_sync_directories[0]: ")
        and words in problems[0]
    )


def test_only_the_bad_entry_of_a_list_is_named():
    (problem,) = cs.directory_problems(["/var/lib/wordpress", "/var/lib/dpkg/info"])
    assert problem == (
        "content_sync_directories[1]: /var/lib/dpkg/info lies inside the system directory /var/lib/dpkg; "
        "a mirror with deletion would rewrite it on the other node"
    )


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("var/www", "is not an absolute path"),
        ("/var/www/html/", "write '/var/www/html/' as '/var/www/html'"),
        ("/srv/a/../b", "write '/srv/a/../b' as '/srv/b'"),
        ("/srv/my site", "has characters other than"),
        ("/srv/$(reboot)", "has characters other than"),
        (None, "is not an absolute path"),
    ],
)
def test_paths_that_are_not_plain_absolute_paths_are_refused(path, words):
    (problem,) = cs.directory_problems([path])
    assert words in problem


def test_overlapping_directories_are_refused_and_named():
    (problem,) = cs.directory_problems(["/srv/www", "/srv/www/static"])
    assert problem.startswith("content_sync_directories[0] and content_sync_directories[1]: ")
    assert "overlap" in problem


def test_an_empty_or_missing_list_is_refused():
    assert "non-empty list" in cs.directory_problems([])[0]
    assert "non-empty list" in cs.directory_problems("/var/www/html")[0]


def test_exclude_patterns_must_be_one_printable_line_each():
    assert cs.exclude_problems(["/index.html", "*.tmp", "cache/"]) == []
    problems = cs.exclude_problems(["ok", "two\nlines", "", "caf\u00e9"])
    assert [p.split(":")[0] for p in problems] == [
        "content_sync_exclude[1]",
        "content_sync_exclude[2]",
        "content_sync_exclude[3]",
    ]


def _words(group, resources):
    return {**group, "resources": resources}


def test_the_resource_first_in_one_group_is_what_the_preflight_wants():
    assert (
        cs.group_problems([_words(WEB_GROUP, ["content-sync", "IPaddr::10.0.0.50/24/eth0", "apache2"])]) == []
    )


def test_a_missing_resource_says_how_to_add_it():
    (problem,) = cs.group_problems([_words(WEB_GROUP, ["IPaddr::10.0.0.50/24/eth0", "apache2"])])
    assert "no group runs the resource content-sync" in problem
    assert "hakit.heartbeat.content_sync_groups" in problem


def test_the_resource_after_the_service_or_in_a_make_before_break_group_is_refused():
    late = cs.group_problems([_words(WEB_GROUP, ["IPaddr::10.0.0.50/24/eth0", "apache2", "content-sync"])])
    assert late == [
        "heartbeat_resource_groups[0].resources: content-sync is resource 2, it must be the first "
        "(it pulls the newest copy before IPaddr::10.0.0.50/24/eth0 starts serving)"
    ]
    mbb = cs.group_problems([{**_words(WEB_GROUP, ["content-sync", "apache2"]), "make_before_break": True}])
    assert len(mbb) == 1 and mbb[0].startswith("heartbeat_resource_groups[0].make_before_break: ")


def test_the_resource_in_two_groups_is_refused():
    groups = [_words(WEB_GROUP, ["content-sync", "apache2"]), {"node": "web2", "resources": ["content-sync"]}]
    assert any("all run content-sync" in p for p in cs.group_problems(groups))


def test_content_sync_groups_puts_the_resource_first_in_the_group_of_the_service_only():
    other = {"node": "web2", "resources": ["IPaddr::10.0.0.60/24/eth0", "postfix"]}
    groups = cs.with_content_sync([WEB_GROUP, other], service="apache2")
    assert groups[0]["resources"][0] == {"type": "service", "name": "content-sync"}
    assert groups[0]["resources"][1:] == WEB_GROUP["resources"]
    assert groups[1] == other
    assert WEB_GROUP["resources"][0]["type"] == "IPaddr"  # the input is not changed
    assert cs.with_content_sync(groups, service="apache2") == groups  # already there: as it is


def test_content_sync_groups_fails_when_no_group_runs_the_service():
    with pytest.raises(ValueError, match="no resource group runs the service 'nginx'"):
        cs.with_content_sync([WEB_GROUP], service="nginx")


# -- the node tool: configuration -------------------------------------------------------------------

CONFIG = {
    "node": "web1",
    "peer": "web2",
    "peer_address": "10.0.0.12",
    "port": 8730,
    "directories": ["/var/www/html"],
    "exclude": ["/index.html"],
    "state_dir": "/var/lib/hakit-content-sync",
    "backup_dir": "/var/lib/hakit-content-sync/backup",
}


def test_the_roles_configuration_parses_and_unknown_keys_are_ignored():
    cfg = tool.parse_config({**CONFIG, "_managed": "Ansible managed"})
    assert (cfg.peer_address, cfg.port, cfg.directories, cfg.exclude) == (
        "10.0.0.12",
        8730,
        ("/var/www/html",),
        ("/index.html",),
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"port": "8730"}, "port must be a positive integer"),
        ({"port": 70000}, "port must be 1-65535"),
        ({"directories": ["/var/www/html/../x"]}, "is not a plain absolute path"),
        ({"directories": []}, "directories must be a non-empty list"),
        ({"peer_address": "10.0.0.12; reboot"}, "peer_address must be a name"),
        ({"exclude": ["a\nb"]}, "exclude must be a list"),
    ],
)
def test_a_wrong_configuration_names_the_file_and_the_key(change, words):
    with pytest.raises(tool.ConfigError, match="/etc/x.json: .*" + words.split()[0]) as err:
        tool.parse_config({**CONFIG, **change}, "/etc/x.json")
    assert words in str(err.value)


def test_a_missing_key_is_named():
    data = dict(CONFIG)
    del data["peer"]
    with pytest.raises(tool.ConfigError, match="missing peer"):
        tool.parse_config(data)


# -- the takeover rule ---------------------------------------------------------------------------------


def _peer(epoch, serving=False):
    return tool.PeerState(node="web2", epoch=epoch, serving=serving)


def test_a_taker_pulls_when_the_peer_served_last():
    decision = tool.decide(100, _peer(200), "web2")
    assert (decision.pull, decision.action) == (True, "pull")


def test_a_taker_whose_copy_is_the_newest_keeps_it():
    decision = tool.decide(300, _peer(200), "web2")
    assert (decision.pull, decision.action) == (False, "keep")
    assert "lsyncd brings web2 up to date" in decision.message


def test_on_the_very_first_start_the_taker_seeds_the_peer():
    decision = tool.decide(0, _peer(0), "web2")
    assert not decision.pull and "neither node has served yet" in decision.message


def test_an_unreachable_peer_means_serving_the_local_copy_and_saying_so():
    decision = tool.decide(100, None, "web2", "Connection timed out")
    assert (decision.pull, decision.action) == (False, "unreachable")
    assert "web2 unreachable (Connection timed out): serving the local copy" in decision.message


def test_a_peer_that_serves_too_is_named_as_a_possible_split_brain():
    assert "split brain" in tool.decide(100, _peer(200, serving=True), "web2").message
    assert "split brain" in tool.decide(300, _peer(200, serving=True), "web2").message


def test_the_new_epoch_is_later_than_everything_known_even_with_a_clock_behind():
    assert tool.next_epoch(1000, 10, _peer(20)) == 1000
    assert tool.next_epoch(5, 10, _peer(20)) == 21
    assert tool.next_epoch(5, 10, None) == 11


def test_the_peers_answer_must_carry_a_whole_epoch():
    assert tool.parse_peer_state('{"node": "web2", "epoch": 7, "serving": true}') == _peer(7, True)
    for bad in ('{"epoch": -1}', '{"epoch": "7"}', '{"epoch": true}', "[]", "x"):
        with pytest.raises(ValueError):
            tool.parse_peer_state(bad)


# -- the forced command -----------------------------------------------------------------------------

CFG = tool.parse_config(CONFIG)
LIVE = "/var/lib/hakit-content-sync/backup/live/var/www/html"
# as sent by rsync 3.2.7 (Debian 12) and 3.5 (Debian 13), captured in the Molecule scenario's journal
PUSH_LSYNCD = (
    f"rsync --server -blogDtpre.iLsfxCIvu --timeout=30 --backup-dir {LIVE} --delete --force -@-1 "
    "--ignore-errors --numeric-ids . /var/www/html/"
)
PULL = (
    "rsync --server --sender -blogDtpre.iLsfxCIvu --timeout=30 --backup-dir "
    "/var/lib/hakit-content-sync/backup/takeover-20261201T060823Z/var/www/html -@-1 --numeric-ids . /var/www/html/"
)


def test_lsyncds_push_is_run_as_sent_with_an_end_of_options_marker():
    argv = tool.check_remote(PUSH_LSYNCD, CFG, serving=False)
    assert argv[:2] == ["/usr/bin/rsync", "--server"]
    assert argv[-3:] == ["--", ".", "/var/www/html/"]
    assert "--backup-dir" in argv and LIVE in argv


def test_a_pull_is_served_even_by_a_node_that_serves():
    assert tool.check_remote(PULL, CFG, serving=True)[-1] == "/var/www/html/"


def test_a_node_that_serves_refuses_every_push():
    with pytest.raises(tool.Refused, match="web1 serves /var/www/html: it is the source of truth"):
        tool.check_remote(PUSH_LSYNCD, CFG, serving=True)


def test_the_epoch_question_is_answered():
    assert tool.check_remote("hakit-content-sync epoch", CFG, serving=False) == [
        "hakit-content-sync",
        "epoch",
    ]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("/bin/sh -c id", "not an rsync server command"),
        ("rsync --daemon", "not an rsync server command"),
        ("rsync --server -logDtpre.iLsfxCIvu . /etc/", "/etc/ is not a synced directory"),
        ("rsync --server -logDtpre.iLsfxCIvu . /var/www/html/../../etc", "is not a synced directory"),
        ("rsync --server -logDtpre.iLsfxCIvu . /var/www/html/ /etc/", "expected one directory"),
        ("rsync --server --sender --remove-source-files -logDtpr . /var/www/html/", "--remove-source-files"),
        ("rsync --server --log-file=/etc/cron.d/x -logDtpr . /var/www/html/", "--log-file=/etc/cron.d/x"),
        ("rsync --server -sblogDtpr . /var/www/html/", "-sblogDtpr"),
        ("rsync --server -logDtprL . /var/www/html/", "-logDtprL"),
        ("rsync --server --backup-dir /etc -b . /var/www/html/", "--backup-dir=/etc is not under"),
        (
            f"rsync --server -b --backup-dir {LIVE}/x . /var/www/html/",
            "not this directory's backup directory",
        ),
        ("rsync --server -logDtpr . /var/www/html/;reboot", "unexpected characters"),
        ("rsync --server -logDtpr /var/www/html/", "no '.' argument"),
    ],
)
def test_anything_else_is_refused_with_the_reason(command, words):
    with pytest.raises(tool.Refused) as err:
        tool.check_remote(command, CFG, serving=False)
    assert words in str(err.value)


def test_the_rsync_commands_mirror_with_backups_and_the_syncs_own_ssh():
    pull = tool.pull_argv(CFG, "/var/www/html", "takeover-1")
    assert pull[-2:] == ["10.0.0.12:/var/www/html/", "/var/www/html/"]
    assert "--backup-dir=/var/lib/hakit-content-sync/backup/takeover-1/var/www/html" in pull
    assert "--modify-window=-1" in pull and "--delete" in pull and "--exclude=/index.html" in pull
    rsh = pull[pull.index("-e") + 1]
    assert rsh.startswith("/usr/bin/ssh -F /dev/null -p 8730 -l root -i /etc/hakit-content-sync/id_ed25519")
    assert "StrictHostKeyChecking=yes" in rsh and " " not in "".join(tool.ssh_options(CFG))
    push = tool.push_argv(CFG, "/var/www/html")
    assert push[-2:] == ["/var/www/html/", "10.0.0.12:/var/www/html/"]
    assert f"--backup-dir={LIVE}" in push
    # what this tool sends, the peer's forced command accepts (the option forms rsync puts on the wire differ)
    assert tool.epoch_argv(CFG)[-1] == "hakit-content-sync epoch"


# -- the resource against a fake system -------------------------------------------------------------


class FakeSystem:
    """Answers the commands the resource runs: the peer's epoch, rsync, systemctl."""

    def __init__(self, peer_answer=(0, '{"node": "web2", "epoch": 500, "serving": false}'), rsync_rc=0):
        self.peer_answer, self.rsync_rc, self.calls = peer_answer, rsync_rc, []
        self.unit_active = False

    def __call__(self, argv, timeout):
        self.calls.append(argv)
        if argv[0] == tool.SSH:
            return self.peer_answer
        if argv[0] == tool.RSYNC:
            return (self.rsync_rc, "" if self.rsync_rc == 0 else "rsync error: timeout (code 30)")
        if argv[:2] == [tool.SYSTEMCTL, "start"]:
            self.unit_active = True
        if argv[:2] == [tool.SYSTEMCTL, "stop"]:
            self.unit_active = False
        if argv[:2] == [tool.SYSTEMCTL, "is-active"]:
            return (0 if self.unit_active else 3, "")
        return (0, "")

    def rsyncs(self):
        return [argv for argv in self.calls if argv[0] == tool.RSYNC]


@pytest.fixture
def node_cfg(tmp_path):
    return tool.parse_config(
        {
            **CONFIG,
            "directories": ["/var/www/html", "/srv/static"],
            "state_dir": f"{tmp_path}/state",
            "serving_flag": f"{tmp_path}/run/serving",
        }
    )


def _node(cfg, system, now=1_000):
    node = tool.Node(cfg, run=system, clock=lambda: now)
    node.log = lambda priority, text: node.messages.append(text)
    return node


def _record(cfg):
    return json.loads(pathlib.Path(cfg.last_start_file).read_text())


def test_a_taker_pulls_every_directory_from_a_newer_peer_then_starts_lsyncd(node_cfg):
    system = FakeSystem()
    assert _node(node_cfg, system).start() == 0
    assert [argv[-1] for argv in system.rsyncs()] == ["/var/www/html/", "/srv/static/"]
    assert all(argv[-2].startswith("10.0.0.12:") for argv in system.rsyncs())  # pulled, not pushed
    assert system.calls[-1] == [tool.SYSTEMCTL, "start", "hakit-content-sync.service"]
    record = _record(node_cfg)
    assert (record["action"], record["epoch_before"], record["epoch"]) == ("pull", 0, 1_000)
    assert tool.read_epoch(node_cfg) == 1_000 and tool.is_serving(node_cfg)


def test_a_taker_with_the_newest_copy_pulls_nothing(node_cfg):
    tool.write_atomic(node_cfg.epoch_file, "900\n")
    system = FakeSystem()
    _node(node_cfg, system, now=950).start()
    assert system.rsyncs() == []
    assert _record(node_cfg)["action"] == "keep" and tool.read_epoch(node_cfg) == 950


def test_a_taker_whose_peer_is_dead_serves_its_copy_and_logs_it(node_cfg):
    system = FakeSystem(peer_answer=(255, "ssh: connect to host 10.0.0.12 port 8730: Connection timed out"))
    node = _node(node_cfg, system)
    assert node.start() == 0
    assert system.rsyncs() == [] and system.unit_active
    assert "unreachable (ssh: connect to host 10.0.0.12 port 8730: Connection timed out)" in node.messages[0]
    assert _record(node_cfg)["peer_reachable"] is False


def test_a_failed_pull_still_serves_and_says_what_failed(node_cfg):
    system = FakeSystem(rsync_rc=30)
    node = _node(node_cfg, system)
    assert node.start() == 0 and system.unit_active
    assert _record(node_cfg)["action"] == "pull-failed"
    assert any("pull from web2 failed" in m and "code 30" in m for m in node.messages)


def test_a_second_start_while_serving_pulls_nothing(node_cfg):
    system = FakeSystem()
    _node(node_cfg, system).start()
    system.calls.clear()
    _node(node_cfg, system).start()
    assert system.rsyncs() == [] and not any(argv[0] == tool.SSH for argv in system.calls)


def test_stop_of_the_serving_node_stops_lsyncd_then_pushes_once_more(node_cfg):
    system = FakeSystem()
    node = _node(node_cfg, system)
    node.start()
    system.calls.clear()
    assert node.stop() == 0
    assert system.calls[0] == [tool.SYSTEMCTL, "stop", "hakit-content-sync.service"]
    assert [argv[-1] for argv in system.rsyncs()] == ["10.0.0.12:/var/www/html/", "10.0.0.12:/srv/static/"]
    assert not tool.is_serving(node_cfg)


def test_stop_on_a_node_that_does_not_serve_never_pushes(node_cfg):
    system = FakeSystem()
    assert _node(node_cfg, system).stop() == 0
    assert system.rsyncs() == []


def test_status_says_running_only_while_serving_with_lsyncd_up(node_cfg, capsys):
    system = FakeSystem()
    node = _node(node_cfg, system)
    assert node.status() == 3 and capsys.readouterr().out.strip() == "stopped"
    node.start()
    assert node.status() == 0 and capsys.readouterr().out.strip() == "running"
    system.unit_active = False  # lsyncd died: the engine may start the resource again
    assert node.status() == 3 and capsys.readouterr().out.strip() == "stopped"


# -- the preflight's reachability check (real sockets on the loopback) ---------------------------------


def _reach(*args):
    done = subprocess.run(
        [sys.executable, str(TOOL), "reach", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_reach_listens_connects_and_sees_where_the_peer_comes_from():
    port = _free_port()
    # the node is its own peer here: it connects to the port it listens on
    result = _reach(
        "--peer", f"127.0.0.1:{port}", "--listen", f"127.0.0.1:{port}", "--expect-from", "127.0.0.1"
    )
    assert result == {"listening": True, "connected": True, "error": "", "accepted_from": ["127.0.0.1"]}


def test_reach_reports_a_peer_nobody_answers_for():
    port = _free_port()
    result = _reach("--peer", f"127.0.0.1:{port}", "--window", "1")
    assert not result["connected"] and "refused" in result["error"].lower()


def test_reach_reports_a_port_it_cannot_listen_on():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _reach("--peer", f"127.0.0.1:{port}", "--listen", f"127.0.0.1:{port}", "--window", "1")
    assert result["listening"] is False and "cannot listen on 127.0.0.1" in result["error"]


def test_the_filters_turn_problems_into_errors_naming_the_variable():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.hakit.heartbeat.plugins.filter import content_sync as filters

    with pytest.raises(AnsibleFilterError, match="no resource group runs the service 'nginx'"):
        filters.content_sync_groups([WEB_GROUP], service="nginx")
    groups = [{"node": "web1", "resources": ["content-sync", "apache2"]}]
    assert filters.content_sync_problems(["/var/www/html"], ["/index.html"], groups) == []
    assert filters.content_sync_problems(["/etc"], [], [])[0].startswith(
        "content_sync_directories[0]: /etc is"
    )
