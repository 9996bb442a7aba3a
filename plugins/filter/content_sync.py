# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the content_sync role: thin wrappers over module_utils/content_sync (each documented in
the sidecar <name>.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.module_utils import content_sync as cs


def content_sync_groups(groups, service: str = "apache2", resource: str = cs.DEFAULT_RESOURCE) -> list:
    """Resource groups with the sync resource first in each group that runs `service`."""
    try:
        return cs.with_content_sync(groups, str(service), str(resource))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def content_sync_problems(
    directories, exclude=None, groups=None, resource: str = cs.DEFAULT_RESOURCE
) -> list[str]:
    """Every problem of the directories, the exclude patterns and (when given) the resource groups."""
    problems = cs.directory_problems(directories) + cs.exclude_problems([] if exclude is None else exclude)
    if groups is not None:
        problems += cs.group_problems(groups, str(resource))
    return problems


class FilterModule:
    def filters(self):
        return {
            "content_sync_groups": content_sync_groups,
            "content_sync_problems": content_sync_problems,
        }
