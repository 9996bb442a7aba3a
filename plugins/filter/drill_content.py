# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter for the drill's content sync cases (roles/lab_drill, tasks/content.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.module_utils import drill_report


def drill_content_case(case: dict) -> dict:
    """Evidence + expectations of one content case -> record with measurements and checks."""
    try:
        return drill_report.evaluate_content_case(dict(case))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"drill_content_case: case {case.get('id', '?')!r}: {exc!r}") from exc


class FilterModule:
    def filters(self):
        return {"drill_content_case": drill_content_case}
