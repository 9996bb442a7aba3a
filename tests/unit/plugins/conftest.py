"""A fake cluster node for the module tests: real files in a temporary directory, a fake clock, and a
fake local daemon that answers cl_status' sub-commands and moves resources the way Heartbeat does.

Every command a module runs goes through FakeNode.run_command; a command the fake does not know fails
the test, so a module that shells out to something unexpected cannot pass.
"""

from __future__ import annotations

import contextlib
import json
import stat
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible_collections.hakit.heartbeat.plugins.module_utils import heartbeat_engine

try:  # ansible-core 2.19+
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # 2.17, 2.18: AnsibleModule reads basic._ANSIBLE_ARGS

    @contextlib.contextmanager
    def patch_module_args(args):
        payload = {
            "ANSIBLE_MODULE_ARGS": {
                "_ansible_remote_tmp": "/tmp",
                "_ansible_keep_remote_files": False,
                **args,
            }
        }
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps(payload).encode()):
            yield


HA_CF = "keepalive 2\ndeadtime 10\nudpport 694\nbcast eth0\nauto_failback on\nnode web1\nnode web2\n"
HARESOURCES = "web1 IPaddr::10.0.0.50/24/eth0 apache2\n"
AUTHKEYS = "auth 1\n1 sha1 s3cret\n"
VIP = "10.0.0.50"
BITS = {"none": 0, "local": 1, "foreign": 2, "all": 3}
WHICH = {"all": 3, "local": 1, "foreign": 2}


PCMK_BIN = "/usr/sbin/"
PCMK_TOOLS = (
    "crm_mon",
    "cibadmin",
    "crm_resource",
    "crm_node",
    "crmadmin",
    "corosync-cfgtool",
    "corosync-cmapctl",
)


class FakePacemaker:
    """A Corosync 3 + Pacemaker 2.1.5 cluster as its command-line tools show it (XML as crm_mon 2.1.5 and
    cibadmin write it): nodes, one group per preferred node with location scores 100/90/..., cli-*
    constraints that crm_resource --move/--clear write, and moves that stay pending for a few polls."""

    def __init__(self, node, names=("web1", "web2"), here="web1"):
        self.node = node
        self.here = here
        self.nodes = {name: {"id": str(i), "state": "online"} for i, name in enumerate(names, 1)}
        # group id -> {members: [(id, class, provider, type, params)], preferred, where, pending}
        self.groups = {}
        self.cli = {}  # group id -> {constraint id: node}
        self.stickiness = 0
        self.dc_state = "S_IDLE"
        self.move_polls = 2  # crm_mon answers with a member Stopping/Starting this many times after a move
        self.links_down = set()
        self.moves_refused = False

    def add_group(self, gid, preferred, where, ip="10.0.0.50", service="apache2"):
        members = [
            (f"ip-{ip}", "ocf", "heartbeat", "IPaddr2", {"ip": ip, "cidr_netmask": "24", "nic": "eth0"}),
            (service, "systemd", None, service, {}),
        ]
        self.groups[gid] = {"members": members, "preferred": preferred, "where": where, "pending": []}
        return self

    # -- the cluster reacting -------------------------------------------------------------------------
    def _placement_target(self, gid):
        group = self.groups[gid]
        online = [n for n, v in self.nodes.items() if v["state"] == "online"]
        prefer = [n for n in self.cli.get(gid, {}).values() if n in online]
        if prefer:
            return prefer[0]
        if group["where"] in online and self.stickiness:
            return group["where"]
        order = self._scores(gid)
        return max(online, key=lambda n: order.get(n, 0)) if online else None

    def _scores(self, gid):
        preferred = self.groups[gid]["preferred"]
        names = [preferred, *(n for n in self.nodes if n != preferred)]
        return {n: 100 - 10 * i for i, n in enumerate(names)}

    def settle(self):
        """One scheduler step: a group whose constraints want it elsewhere goes through Stopping/Starting."""
        for gid, group in self.groups.items():
            if group["pending"]:
                group["pending"].pop(0)
                continue
            target = self._placement_target(gid)
            if target != group["where"]:
                group["pending"] = ["Stopping"] + ["Starting"] * (self.move_polls - 1)
                group["where"] = target

    # -- the tools ---------------------------------------------------------------------------------
    def run(self, argv):
        tool, args = argv[0][len(PCMK_BIN) :], argv[1:]
        if tool == "crm_mon" and args == ["--output-as=xml", "--one-shot"]:
            if not self.node.running:
                return 102, CRM_MON_DOWN, "crm_mon: Error: cluster is not available on this node\n"
            out = self.crm_mon_xml()
            self.settle()
            return 0, out, ""
        if tool == "cibadmin" and args == ["--query", "--scope", "configuration"]:
            return 0, self.configuration_xml(), ""
        if tool == "crm_node" and args == ["--name"]:
            return 0, self.here + "\n", ""
        if tool == "crmadmin" and len(args) == 3 and args[0].startswith("--status="):
            name = args[0].split("=", 1)[1]
            return 0, CRMADMIN_STATUS.format(node=name, state=self.dc_state), ""
        if tool == "corosync-cfgtool" and args == ["-s"]:
            return 0, self.cfgtool(), ""
        if tool == "corosync-cmapctl" and args == ["runtime.config.totem."]:
            return 0, CMAP_TOTEM, ""
        if tool == "crm_resource":
            return self.crm_resource(args)
        raise AssertionError(f"the module ran a Pacemaker command the fake does not know: {argv}")

    def crm_resource(self, args):
        if self.moves_refused:
            return 1, "", "crm_resource: Error performing operation: Permission denied\n"
        if args[:3] == ["--move", "--resource", args[2]] and args[3] == "--node":
            self.cli[args[2]] = {f"cli-prefer-{args[2]}": args[4]}
            return 0, "", ""
        if args[:2] == ["--clear", "--resource"]:
            removed = self.cli.pop(args[2], {})
            return 0, "".join(f"Removing constraint: {cid}\n" for cid in removed), ""
        raise AssertionError(f"unexpected crm_resource {args}")

    def crm_mon_xml(self):
        nodes = []
        for name, node in self.nodes.items():
            flags = {
                "online": "false",
                "standby": "false",
                "maintenance": "false",
                "pending": "false",
                "unclean": "false",
            }
            if node["state"] in ("online", "standby"):
                flags["online"] = "true"
            if node["state"] == "standby":
                flags["standby"] = "true"
            if node["state"] in ("pending", "unclean"):
                flags[node["state"]] = "true"
            running = sum(len(g["members"]) for g in self.groups.values() if g["where"] == name)
            nodes.append(
                f'    <node name="{name}" id="{node["id"]}" online="{flags["online"]}" standby="{flags["standby"]}" '
                f'standby_onfail="false" maintenance="{flags["maintenance"]}" pending="{flags["pending"]}" '
                f'unclean="{flags["unclean"]}" shutdown="false" expected_up="true" is_dc="{str(name == self.dc).lower()}" '
                f'resources_running="{running}" type="member"/>'
            )
        groups = []
        for gid, group in self.groups.items():
            rows = []
            for i, (rid, cls, prov, typ, _params) in enumerate(group["members"]):
                agent = f"{cls}:{prov}:{typ}" if prov else f"{cls}:{typ}"
                role, where = "Started", group["where"]
                if group["pending"]:
                    role = group["pending"][0] if i == len(group["members"]) - 1 else "Started"
                if where is None:
                    role = "Stopped"
                on = (
                    f'      <node name="{where}" id="{self.nodes[where]["id"]}" cached="true"/>\n'
                    if where
                    else ""
                )
                rows.append(
                    f'    <resource id="{rid}" resource_agent="{agent}" role="{role}" active="{str(bool(where)).lower()}" '
                    f'orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" '
                    f'nodes_running_on="{int(bool(where))}">\n{on}    </resource>'
                )
            groups.append(
                f'    <group id="{gid}" number_resources="{len(rows)}" managed="true" disabled="false">\n'
                + "\n".join(rows)
                + "\n    </group>"
            )
        return CRM_MON.format(
            dc=self.dc, nodes="\n".join(nodes), groups="\n".join(groups), count=len(self.nodes)
        )

    @property
    def dc(self):
        return next(n for n, v in self.nodes.items() if v["state"] == "online")

    def configuration_xml(self):
        prims, locations = [], []
        for gid, group in self.groups.items():
            rows = []
            for rid, cls, prov, typ, params in group["members"]:
                provider = f' provider="{prov}"' if prov else ""
                pairs = "".join(
                    f'<nvpair id="{rid}-instance_attributes-{k}" name="{k}" value="{v}"/>'
                    for k, v in params.items()
                )
                attrs = (
                    f'<instance_attributes id="{rid}-instance_attributes">{pairs}</instance_attributes>'
                    if pairs
                    else ""
                )
                rows.append(f'<primitive id="{rid}" class="{cls}"{provider} type="{typ}">{attrs}</primitive>')
            prims.append(f'<group id="{gid}">{"".join(rows)}</group>')
            for name, score in self._scores(gid).items():
                locations.append(
                    f'<rsc_location id="loc-{gid}-{name}" rsc="{gid}" node="{name}" score="{score}"/>'
                )
            for cid, name in self.cli.get(gid, {}).items():
                locations.append(
                    f'<rsc_location id="{cid}" rsc="{gid}" role="Started" node="{name}" score="INFINITY"/>'
                )
        nodes = "".join(f'<node id="{v["id"]}" uname="{n}"/>' for n, v in self.nodes.items())
        return CIB_CONFIGURATION.format(
            nodes=nodes, resources="".join(prims), constraints="".join(locations), stickiness=self.stickiness
        )

    def cfgtool(self):
        lines = [
            f"Local node ID {self.nodes[self.here]['id']}, transport knet",
            "LINK ID 0 udp",
            "\taddr\t= 10.0.0.11",
            "\tstatus:",
        ]
        for name, node in self.nodes.items():
            if name == self.here:
                word = "localhost"
            elif node["state"] in ("offline", "unclean") or name in self.links_down:
                word = "disconnected"
            else:
                word = "connected"
            lines.append(f"\t\tnodeid: {node['id']:>10}:\t{word}")
        return "\n".join(lines) + "\n"


CRM_MON = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml --one-shot">
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5-a3f44794f94" name="{dc}" id="1" with_quorum="true" mixed_version="false"/>
    <last_update time="Tue Jul  1 10:00:00 2025"/>
    <last_change time="Tue Jul  1 09:59:00 2025" user="root" client="cibadmin" origin="web1"/>
    <nodes_configured number="{count}"/>
    <resources_configured number="2" disabled="0" blocked="0"/>
    <cluster_options stonith-enabled="false" symmetric-cluster="true" no-quorum-policy="stop"
      maintenance-mode="false" stop-all-resources="false" stonith-timeout-ms="60000" priority-fencing-delay-ms="0"/>
  </summary>
  <nodes>
{nodes}
  </nodes>
  <resources>
{groups}
  </resources>
  <node_history/>
  <status code="0" message="OK"/>
</pacemaker-result>
"""

CRM_MON_DOWN = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml --one-shot">
  <status code="102" message="Not connected">
    <errors>
      <error>crm_mon: Error: cluster is not available on this node</error>
    </errors>
  </status>
</pacemaker-result>
"""

CIB_CONFIGURATION = """<configuration>
  <crm_config>
    <cluster_property_set id="cib-bootstrap-options">
      <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
    </cluster_property_set>
  </crm_config>
  <nodes>{nodes}</nodes>
  <resources>{resources}</resources>
  <constraints>{constraints}</constraints>
  <rsc_defaults>
    <meta_attributes id="rsc-options">
      <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="{stickiness}"/>
    </meta_attributes>
  </rsc_defaults>
</configuration>
"""

CRMADMIN_STATUS = """<pacemaker-result api-version="2.25" request="crmadmin --status={node} --output-as=xml --timeout=10s">
  <crmd node_name="{node}" state="{state}" result="ok"/>
  <status code="0" message="OK"/>
</pacemaker-result>
"""

CMAP_TOTEM = """runtime.config.totem.block_unlisted_ips (u32) = 1
runtime.config.totem.consensus (u32) = 3600
runtime.config.totem.token (u32) = 3000
runtime.config.totem.token_retransmit (u32) = 714
runtime.config.totem.token_retransmits_before_loss_const (u32) = 4
runtime.config.totem.token_warning (u32) = 75
"""


class ModuleExit(Exception):
    """exit_json was called; .result is what the module returned."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleFail(ModuleExit):
    """fail_json was called."""


class FakeClock:
    """time.monotonic/time.sleep for the modules: sleeping advances the clock at once."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeNode:
    """One node: its engine's files, its daemon's state, and the commands the module ran."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.config_dir = tmp_path / "ha.d"
        self.config_dir.mkdir()
        for name, text in (("ha.cf", HA_CF), ("haresources", HARESOURCES), ("authkeys", AUTHKEYS)):
            (self.config_dir / name).write_text(text)
        (self.config_dir / "authkeys").chmod(0o600)
        self.agent_path = tmp_path / "hbagent.pyz"
        self.socket = tmp_path / "hbagent.sock"
        self.heartbeat_daemon = tmp_path / "libexec" / "heartbeat"
        self.tool_dir = tmp_path / "share-heartbeat"
        monkeypatch.setattr(heartbeat_engine, "HEARTBEAT_DAEMONS", (str(self.heartbeat_daemon),))
        monkeypatch.setattr(heartbeat_engine, "HEARTBEAT_TOOL_DIRS", (str(self.tool_dir),))
        monkeypatch.setattr(heartbeat_engine, "AGENT_SOCKET", str(self.socket))
        monkeypatch.setattr(heartbeat_engine, "PACEMAKER_DAEMONS", (str(tmp_path / "pacemakerd"),))
        self.bins = {"ip": "/usr/sbin/ip", "python3": "/usr/bin/python3", "systemctl": "/usr/bin/systemctl"}
        self.clock = FakeClock()
        # daemon state
        self.engine = None
        self.running = True
        self.unit_state = "inactive"  # what `systemctl is-active hbagent.service` says
        self.nodes = {"web1": "active", "web2": "active"}
        self.links = {"web1": {"eth0": "up"}, "web2": {"eth0": "up"}}
        self.rsc = ["local"]  # answers of rscstatus, in order; the last one repeats
        self.moves_refused = False
        self.move_steps = 2  # polls a move stays in transition
        self.addresses = ["10.0.0.11"]
        self.ip_rc = 0
        self.commands = []
        self.answers = {}  # argv tuple -> (rc, out, err), overrides the fake daemon

    # -- engines ----------------------------------------------------------------------------------
    def install_heartbeat(self):
        self.engine = "heartbeat"
        self._executable(self.heartbeat_daemon)
        for tool in ("hb_standby", "hb_takeover"):
            self._executable(self.tool_dir / tool)
        self.bins["cl_status"] = "/usr/bin/cl_status"
        return self

    def install_agent(self, running=True):
        """hbagent: the zipapp (and, as the lead's role installs them, cl_status/hb_* wrappers)."""
        self.engine = "agent"
        self.agent_path.write_text("zipapp")
        self.running = running
        if running:
            self.socket.write_text("")
        self.bins["cl_status"] = "/usr/bin/cl_status"  # the agent's wrapper: must not decide the engine
        return self

    def install_pacemaker(self, names=("web1", "web2"), here="web1"):
        """Corosync + Pacemaker: its tools in /usr/sbin, no ha.d at all; web1's group vip (vip+apache2) on web1."""
        self.engine = "pacemaker"
        for tool in PCMK_TOOLS:
            self.bins[tool] = PCMK_BIN + tool
        for name in ("ha.cf", "haresources", "authkeys"):
            (self.config_dir / name).unlink()
        self.pacemaker = FakePacemaker(self, names, here).add_group("vip", "web1", "web1")
        self.cib_file = self.tmp / "cib.xml"
        self.monkeypatch.setattr(heartbeat_engine, "PACEMAKER_CIB_FILE", str(self.cib_file))
        self._executable(self.tmp / "pacemakerd")
        return self

    def _executable(self, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def status_prefix(self):
        if self.engine == "heartbeat":
            return ["/usr/bin/cl_status"]
        return ["/usr/bin/python3", str(self.agent_path), "cl-status"]

    def tool_prefix(self, tool):
        if self.engine == "heartbeat":
            return [str(self.tool_dir / f"hb_{tool}")]
        return ["/usr/bin/python3", str(self.agent_path), tool]

    # -- what the module calls ---------------------------------------------------------------------
    def get_bin_path(self, module, name, required=False, opt_dirs=None):
        path = self.bins.get(name)
        if path is None and required:
            module.fail_json(msg=f"Failed to find required executable {name!r} in paths")
        return path

    def run_command(self, module, args, **kwargs):
        argv = [str(a) for a in args]
        self.commands.append(argv)
        if tuple(argv) in self.answers:
            return self.answers[tuple(argv)]
        if argv == ["/usr/sbin/ip", "-o", "-4", "addr", "show"]:
            if self.ip_rc:
                return self.ip_rc, "", "Cannot open netlink socket"
            lines = [f"2: eth0    inet {a}/24 brd 10.0.0.255 scope global eth0" for a in self.addresses]
            return 0, "\n".join(lines) + "\n", ""
        if argv == ["/usr/bin/systemctl", "is-active", "hbagent.service"]:
            return (0 if self.unit_state == "active" else 3), self.unit_state + "\n", ""
        if argv == ["/usr/bin/systemctl", "is-active", "pacemaker.service"]:
            state = "active" if self.engine == "pacemaker" and self.running else "inactive"
            return (0 if state == "active" else 3), state + "\n", ""
        if self.engine == "pacemaker" and argv[0].startswith(PCMK_BIN):
            return self.pacemaker.run(argv)
        if self.engine and argv[: len(self.status_prefix())] == self.status_prefix():
            return self._cl_status(argv[len(self.status_prefix()) :])
        for tool in ("standby", "takeover"):
            if self.engine and argv[:-1] == self.tool_prefix(tool):
                return self._move(tool, argv[-1])
        raise AssertionError(f"the module ran a command the fake node does not know: {argv}")

    def _cl_status(self, args):
        sub, params = args[0], args[1:]
        if sub == "hbstatus":
            if self.running:
                return 0, "Heartbeat is running on this machine.\n", ""
            return 1, "Heartbeat is stopped on this machine.\n", ""
        if not self.running:
            return 1, "", "Cannot signon with heartbeat\n"
        if sub in ("nodestatus", "nodetype", "listhblinks", "hblinkstatus") and params[0] not in self.nodes:
            return 11, "", "Error. May be due to incorrect node name\n"
        if sub == "nodestatus":
            status = self.nodes[params[0]]
            return (0 if status in ("active", "up", "ping") else 1), status + "\n", ""
        if sub == "nodetype":
            return 0, "normal\n", ""
        if sub == "listhblinks":
            return 0, "".join(f"\t{link}\n" for link in self.links[params[0]]), ""
        if sub == "hblinkstatus":
            status = self.links[params[0]][params[1]]
            return (0 if status == "up" else 1), status + "\n", ""
        if sub == "rscstatus":
            answer = self.rsc.pop(0) if len(self.rsc) > 1 else self.rsc[0]
            return 0, answer + "\n", ""
        raise AssertionError(f"unexpected cl_status sub-command {args}")

    def _move(self, tool, which):
        if self.moves_refused:
            return 1, "", f"{tool} {which}: refused\n"
        held = BITS[self.rsc[-1]]
        held = held | WHICH[which] if tool == "takeover" else held & ~WHICH[which]
        state = next(name for name, bits in BITS.items() if bits == held)
        self.rsc = [*self.rsc[:-1], *["transition"] * self.move_steps, state]
        return 0, "", ""

    def ran(self, *words):
        """The commands run (as strings) that contain every one of `words`."""
        return [line for line in (" ".join(argv) for argv in self.commands) if all(w in line for w in words)]

    # -- running a module --------------------------------------------------------------------------
    def run(self, module, check_mode=False, **params):
        """Run `module.main()` with these params; return ('exit' | 'fail', result)."""
        args = {"config_dir": str(self.config_dir), "agent_path": str(self.agent_path), **params}
        if module.__name__.endswith("switchover"):
            args.pop("config_dir")
            self.monkeypatch.setattr(module, "time", self.clock)
        if check_mode:
            args["_ansible_check_mode"] = True
        node = self

        def exit_json(self, **result):
            raise ModuleExit(result)

        def fail_json(self, msg, **result):
            raise ModuleFail({"msg": msg, **result})

        with (
            patch_module_args(args),
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json),
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json),
            mock.patch.object(basic.AnsibleModule, "run_command", node.run_command_method()),
            mock.patch.object(basic.AnsibleModule, "get_bin_path", node.get_bin_path_method()),
        ):
            try:
                module.main()
            except ModuleFail as done:
                return "fail", done.result
            except ModuleExit as done:
                return "exit", done.result
        raise AssertionError("the module returned without exit_json or fail_json")

    def run_command_method(self):
        node = self

        def run_command(self, args, **kwargs):
            return node.run_command(self, args, **kwargs)

        return run_command

    def get_bin_path_method(self):
        node = self

        def get_bin_path(self, arg, required=False, opt_dirs=None):
            return node.get_bin_path(self, arg, required, opt_dirs)

        return get_bin_path


@pytest.fixture
def node(tmp_path, monkeypatch):
    return FakeNode(tmp_path, monkeypatch)


@pytest.fixture(params=["heartbeat", "agent"])
def any_node(request, node):
    """The same node with either engine installed: the modules must behave alike."""
    return node.install_heartbeat() if request.param == "heartbeat" else node.install_agent()
