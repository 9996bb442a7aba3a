# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content_sync role's checks of its input, and the helper that adds its cluster resource to the
resource groups. Stdlib only and free of Ansible imports: the filter plugin ``hakit.heartbeat.content_sync_*``
wraps it and the unit tests load it standalone. Every problem is one sentence naming the variable.
"""

from __future__ import annotations

import posixpath
import re

DEFAULT_RESOURCE = "content-sync"

# One word on an ssh command line and one literal in lsyncd's Lua configuration (the node tool checks
# the same pattern): letters, digits and . _ @ + - /
SAFE_PATH_RE = re.compile(r"^/[A-Za-z0-9._@+/-]*$")

# Trees that belong to the system, this role or the cluster engines: a synced directory may be none of
# them, lie inside none of them and contain none of them (a mirror with --delete would rewrite them).
SYSTEM_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/tmp",
    "/usr",
    "/var/backups",
    "/var/cache",
    "/var/lib/apt",
    "/var/lib/dpkg",
    "/var/lib/hakit-content-sync",
    "/var/lib/hbagent",
    "/var/lib/heartbeat",
    "/var/lib/systemd",
    "/var/log",
    "/var/mail",
    "/var/spool",
    "/var/tmp",
)
# Parents of many unrelated things: a directory below them is fine, the whole of one is not.
SYSTEM_ROOTS = ("/", "/home", "/media", "/mnt", "/opt", "/srv", "/var", "/var/lib", "/var/local", "/var/opt")


def _inside(inner: str, outer: str) -> bool:
    """inner is outer or below it."""
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def directory_problems(paths, variable: str = "content_sync_directories") -> list[str]:
    """Why these directories cannot be mirrored between the nodes ([] when they can)."""
    if not isinstance(paths, (list, tuple)) or not paths:
        return [f"{variable}: must be a non-empty list of absolute directory paths, got {paths!r}"]
    problems: list[str] = []
    clean: list[tuple[str, str]] = []
    for index, path in enumerate(paths):
        where = f"{variable}[{index}]"
        if not isinstance(path, str) or not path.startswith("/"):
            problems.append(f"{where}: {path!r} is not an absolute path")
            continue
        if not SAFE_PATH_RE.match(path):
            problems.append(
                f"{where}: {path!r} has characters other than letters, digits and . _ @ + - / "
                "(it must be one word on the ssh command line and in lsyncd's configuration)"
            )
            continue
        normal = posixpath.normpath(path)
        if normal != path:
            problems.append(f"{where}: write {path!r} as {normal!r} (no trailing '/', '.', '..' or '//')")
            continue
        if path in SYSTEM_ROOTS:
            problems.append(
                f"{where}: {path} is a system directory holding unrelated data; sync the directory of the "
                "content below it (e.g. /srv/www or /var/www/html)"
            )
            continue
        clash = next((tree for tree in SYSTEM_TREES if _inside(path, tree) or _inside(tree, path)), None)
        if clash is not None:
            relation = "is" if path == clash else "lies inside" if _inside(path, clash) else "contains"
            problems.append(
                f"{where}: {path} {relation} the system directory {clash}; a mirror with deletion would "
                "rewrite it on the other node"
            )
            continue
        clean.append((where, path))
    for i, (where, path) in enumerate(clean):
        for other_where, other in clean[i + 1 :]:
            if _inside(path, other) or _inside(other, path):
                problems.append(
                    f"{where} and {other_where}: {path} and {other} overlap; list each tree once (the outer one)"
                )
    return problems


def exclude_problems(patterns, variable: str = "content_sync_exclude") -> list[str]:
    """rsync patterns, one printable ASCII line each (they go into lsyncd's Lua file and rsync's arguments)."""
    if not isinstance(patterns, (list, tuple)):
        return [f"{variable}: must be a list of rsync patterns, got {patterns!r}"]
    problems = []
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern or len(pattern) > 255:
            problems.append(f"{variable}[{index}]: must be a non-empty pattern of at most 255 characters")
        elif not all(" " <= c <= "~" for c in pattern):
            problems.append(f"{variable}[{index}]: {pattern!r} must be printable ASCII on one line")
    return problems


def _words(group) -> list[str]:
    resources = group.get("resources") if isinstance(group, dict) else None
    return [str(word) for word in resources] if isinstance(resources, (list, tuple)) else []


def group_problems(
    groups, resource: str = DEFAULT_RESOURCE, variable: str = "heartbeat_resource_groups"
) -> list[str]:
    """Whether the cluster runs the sync resource where it must: first in exactly one group.

    groups: resource groups with haresources words (hakit.heartbeat.hb_resource_groups). First, because it
    brings the copy up to date before the address and the service start, and stops last, after them.
    """
    hint = (
        f"add {{type: service, name: {resource}}} as the FIRST resource of the group that serves the synced "
        f"directories, or write {variable}: \"{{{{ my_groups | hakit.heartbeat.content_sync_groups(service='apache2') }}}}\""
    )
    if not isinstance(groups, (list, tuple)):
        return [f"{variable}: must be a list of resource groups; {hint}"]
    holding = [(i, group) for i, group in enumerate(groups) if resource in _words(group)]
    if not holding:
        return [
            f"{variable}: no group runs the resource {resource}, so nothing would sync the content; {hint}"
        ]
    problems = []
    if len(holding) > 1:
        problems.append(
            f"{variable}: groups {', '.join(str(i) for i, _g in holding)} all run {resource}; "
            "one group serves the synced directories"
        )
    for index, group in holding:
        words = _words(group)
        if words[0] != resource:
            problems.append(
                f"{variable}[{index}].resources: {resource} is resource {words.index(resource)}, it must be the "
                f"first (it pulls the newest copy before {words[0]} starts serving)"
            )
        if group.get("make_before_break"):
            problems.append(
                f"{variable}[{index}].make_before_break: not with {resource}: the taker would pull while the "
                "giver still accepts edits, and an edit made in between would be lost"
            )
    return problems


def _resource_name(resource) -> str:
    if isinstance(resource, dict):
        return str(resource.get("name") or resource.get("word") or "")
    return str(resource)


def with_content_sync(groups, service: str = "apache2", resource: str = DEFAULT_RESOURCE) -> list:
    """The groups with {type: service, name: resource} first in each group that runs `service`.

    A group that already runs the resource is left as it is. ValueError when no group runs `service`.
    """
    if not isinstance(groups, (list, tuple)):
        raise ValueError(f"content_sync_groups: expects a list of resource groups, got {groups!r}")
    out, found = [], False
    for group in groups:
        if not isinstance(group, dict):
            raise ValueError(f"content_sync_groups: a group must be a mapping, got {group!r}")
        resources = list(group.get("resources") or [])
        names = [_resource_name(r) for r in resources]
        if service in names:
            found = True
            if resource not in names:
                group = {**group, "resources": [{"type": "service", "name": resource}, *resources]}
        out.append(group)
    if not found:
        raise ValueError(f"content_sync_groups: no resource group runs the service {service!r}")
    return out
