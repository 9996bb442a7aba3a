"""pacemaker_cib against a fake cibadmin: honest changed, diff, check mode, missing sections."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible_collections.hakit.heartbeat.plugins.modules import pacemaker_cib

try:  # ansible-core 2.19+
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # pragma: no cover - older cores
    from tests.unit.plugins.conftest import patch_module_args  # type: ignore[no-redef]

WANTED = {
    "rsc_defaults": '<rsc_defaults><meta_attributes id="rsc-options"><nvpair id="rsc-options-resource-stickiness" '
    'name="resource-stickiness" value="0"/></meta_attributes></rsc_defaults>',
    "resources": '<resources><primitive id="apache2" class="systemd" type="apache2"/></resources>',
}


class Done(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class FakeCib:
    """cibadmin on a node: sections by name (None = absent), every command recorded."""

    def __init__(self, sections):
        self.sections = dict(sections)
        self.commands = []

    def run_command(self, argv, **_kw):
        self.commands.append(list(argv))
        if "--query" in argv:
            text = self.sections.get(argv[argv.index("--scope") + 1])
            return (
                (105, "", "Call cib_query failed: No such device or address")
                if text is None
                else (0, text, "")
            )
        xml = argv[argv.index("--xml-text") + 1]
        section = xml[1 : xml.index(">")].split()[0].rstrip("/")
        if "--replace" in argv and self.sections.get(section) is None:
            return 105, "", "Call cib_replace failed"
        self.sections[section] = xml
        return 0, "", ""

    def writes(self):
        return [c for c in self.commands if "--replace" in c or "--create" in c]


def run(cib, check_mode=False, diff=False, **params):
    args = {"sections": WANTED, **params}
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True

    def leave(_self, **result):
        raise Done(result)

    def fail(_self, msg, **result):
        raise Done({"failed": True, "msg": msg, **result})

    with (
        patch_module_args(args),
        mock.patch.object(basic.AnsibleModule, "exit_json", leave),
        mock.patch.object(basic.AnsibleModule, "fail_json", fail),
        mock.patch.object(basic.AnsibleModule, "run_command", cib.run_command),
        pytest.raises(Done) as done,
    ):
        pacemaker_cib.main()
    return done.value.result


def test_a_new_cluster_gets_its_sections_and_a_second_run_changes_nothing():
    cib = FakeCib({"rsc_defaults": None, "resources": "<resources/>"})
    first = run(cib)
    assert first["changed"] is True and first["replaced"] == ["rsc_defaults", "resources"]
    # the absent section is created under <configuration>, the existing one replaced
    assert cib.writes()[0][1:4] == ["--create", "--scope", "configuration"]
    assert cib.writes()[1][1:4] == ["--replace", "--scope", "resources"]
    second = run(cib)
    assert second == {"changed": False, "replaced": []}


def test_check_mode_reads_and_reports_but_writes_nothing():
    cib = FakeCib({"rsc_defaults": None, "resources": "<resources/>"})
    result = run(cib, check_mode=True, diff=True)
    assert result["changed"] is True
    assert cib.writes() == []
    assert "resource-stickiness" in result["diff"]["after"]


def test_an_equal_section_written_differently_is_left_alone():
    cib = FakeCib({"rsc_defaults": WANTED["rsc_defaults"],
                   "resources": '<resources>\n <primitive type="apache2" class="systemd" id="apache2"/>\n</resources>'})  # fmt: skip
    assert run(cib) == {"changed": False, "replaced": []}
    assert cib.writes() == []


def test_an_unknown_section_and_broken_xml_fail_with_their_name():
    assert "unknown CIB section(s) status" in run(FakeCib({}), sections={"status": "<status/>"})["msg"]
    result = run(FakeCib({"resources": "<resources/>"}), sections={"resources": "<resources>"})
    assert result["failed"] and result["msg"].startswith("sections.resources:")


def test_a_failing_cibadmin_is_reported_not_guessed():
    cib = FakeCib({})
    cib.run_command = lambda *_a, **_k: (102, "", "Could not connect to the CIB")
    result = run(cib)
    assert result["failed"] and "exit 102" in result["msg"] and "Could not connect" in result["msg"]
