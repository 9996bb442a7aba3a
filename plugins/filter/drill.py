# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the four-case drill (roles/lab_drill): judge a case, render the report."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.module_utils import drill_report, heartbeat_config


def drill_case(case: dict) -> dict:
    """Evidence + expectations of one case -> record with measurements and checks."""
    try:
        return drill_report.evaluate_case(dict(case))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"drill_case: case {case.get('id', '?')!r}: {exc!r}") from exc


def drill_report_markdown(records: list[dict], title: str = "Heartbeat four-case drill") -> str:
    return drill_report.render_report(list(records), title)


def drill_case_markdown(record: dict) -> str:
    return drill_report.render_case(dict(record))


def drill_failures(records: list[dict]) -> list[str]:
    return drill_report.failed_checks(list(records))


def drill_node_view(info: dict, vip: str) -> dict:
    """{uname, vip (held here), status {node: word}, engine} from one node's heartbeat_info result."""
    if not isinstance(info, dict):
        raise AnsibleFilterError(f"drill_node_view: expects a heartbeat_info result, got {type(info).__name__}")
    return drill_report.node_view(info, str(vip))


def lab_second_link_address(address: str) -> str:
    """The lab's second heartbeat network: the same address (or subnet) with its third octet + 100."""
    parts = str(address).split(".")
    if len(parts) != 4 or not parts[2].isdigit() or int(parts[2]) > 155:
        raise AnsibleFilterError(f"lab_second_link_address: {address!r} is not an IPv4 address with a third octet <= 155")
    parts[2] = str(int(parts[2]) + 100)
    return ".".join(parts)


def drill_seconds(value) -> float:
    """A Heartbeat time (number of seconds, "10s", "500ms") in seconds, as ha.cf would read it."""
    if isinstance(value, bool):
        raise AnsibleFilterError(f"drill_seconds: {value!r} is not a Heartbeat time")
    if isinstance(value, int | float):
        return float(value)
    msec = heartbeat_config.parse_msec(str(value))
    if msec is None:
        raise AnsibleFilterError(f"drill_seconds: {value!r} is not a Heartbeat time (seconds, or with ms/us)")
    return msec / 1000.0


class FilterModule:
    def filters(self):
        return {
            "drill_case": drill_case,
            "drill_case_markdown": drill_case_markdown,
            "drill_report_markdown": drill_report_markdown,
            "drill_failures": drill_failures,
            "drill_node_view": drill_node_view,
            "drill_seconds": drill_seconds,
            "lab_second_link_address": lab_second_link_address,
        }
