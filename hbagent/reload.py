"""What a configuration reload (SIGHUP, `hbagent reload`) may change while the cluster runs.

Pure: compares the running configuration with the newly parsed one and says what would change and
what cannot change without a restart. The daemon applies a reload all or nothing: one refusal keeps the
whole running configuration. Nothing here ever moves a resource.

Applied live: keepalive, deadtime, warntime, initdead, msgfmt, hopfudge and the other tunables,
log files, authkeys (every key: rotate by adding the new index on both nodes, then switching `auth`),
auto_failback on <-> off, the resources *inside* a haresources group (a running group keeps the
definition it was started with until it is stopped), make_before_break and allow_crc in hbagent.conf.

Refused (restart hbagent to apply): the node list, the media (bcast/mcast/ucast, udpport), crm, a
switch to or from auto_failback legacy (another resource protocol), adding, removing or re-assigning a
haresources group (local/foreign on the wire would no longer mean the same groups on both nodes), and
the split-brain guard's settings: ping nodes (ping, ping_group, deadping), fencing (stonith,
stonith_host, hbagent.conf fence_command) and stop_failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

LIVE_TIMINGS = (("keepalive", "keepalive_ms"), ("deadtime", "deadtime_ms"), ("warntime", "warntime_ms"),
                ("initdead", "initdead_ms"), ("max_rexmit_delay", "max_rexmit_delay_ms"))  # fmt: skip
# directives compared one by one below (or refused); the rest are compared as plain values
_HANDLED = {"node", "bcast", "mcast", "ucast", "udpport", "crm", "auto_failback", "logfile", "debugfile",
            "keepalive", "deadtime", "warntime", "initdead", "max_rexmit_delay"}  # fmt: skip
GUARD_DIRECTIVES = ("ping", "ping_group", "deadping", "stonith", "stonith_host")  # restart to apply


@dataclass
class ReloadPlan:
    changes: list[str] = field(default_factory=list)  # what would change, one line each
    refusals: list[str] = field(default_factory=list)  # why it cannot be applied, one line each

    @property
    def ok(self) -> bool:
        return not self.refusals


def _medium(m) -> str:
    extra = [m.address] if m.address else []
    if m.kind == "mcast":
        extra += [str(m.ttl), str(m.loop)]
    return " ".join([m.kind, m.dev, *extra, f"port {m.port}"])


def _values(ha_cf) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value, _line in ha_cf.directives:
        if name not in _HANDLED and name not in GUARD_DIRECTIVES:
            values[name] = value  # the last one wins, as in Heartbeat (guard directives: refused above)
    return values


def _authkeys_text(keys) -> str:
    methods = ", ".join(f"{index} {method}" for index, (method, _key) in sorted(keys.keys.items()))
    return f"auth {keys.active} (keys: {methods})"


def plan_reload(old, new, old_mbb=(), new_mbb=(), old_allow_crc=False, new_allow_crc=False) -> ReloadPlan:
    """old/new: ClusterConfig; *_mbb: make_before_break group keys; *_allow_crc: hbagent.conf allow_crc."""
    plan = ReloadPlan()
    a, b = old.ha_cf, new.ha_cf
    if a.nodes != b.nodes:
        plan.refusals.append(
            f"{b.path}: node list changed ({' '.join(a.nodes)} -> {' '.join(b.nodes)}): refused, the "
            "membership cannot change while hbagent runs; restart hbagent to apply it"
        )
    media_a, media_b = [_medium(m) for m in a.media], [_medium(m) for m in b.media]
    if media_a != media_b:
        plan.refusals.append(
            f"{b.path}: media changed ({'; '.join(media_a)} -> {'; '.join(media_b)}): restart hbagent to apply"
        )
    if a.crm != b.crm:
        plan.refusals.append(f"{b.path}: crm {a.crm} -> {b.crm}: restart hbagent to apply")
    if a.auto_failback != b.auto_failback:
        if "legacy" in (a.auto_failback, b.auto_failback):
            plan.refusals.append(
                f"{b.path}: auto_failback {a.auto_failback} -> {b.auto_failback} changes the resource "
                "protocol: restart hbagent to apply"
            )
        else:
            plan.changes.append(f"auto_failback {a.auto_failback} -> {b.auto_failback}")
    for name, attr in LIVE_TIMINGS:
        before, after = getattr(a, attr), getattr(b, attr)
        if before != after:
            plan.changes.append(f"{name} {before}ms -> {after}ms")
    for name in ("logfile", "debugfile"):
        if getattr(a, name) != getattr(b, name):
            plan.changes.append(f"{name} {getattr(a, name)} -> {getattr(b, name)}")
    for name in GUARD_DIRECTIVES:
        before = [v for d, v, _line in a.directives if d == name]
        after = [v for d, v, _line in b.directives if d == name]
        if before != after:
            plan.refusals.append(
                f"{b.path}: {name} changed: ping nodes and fencing apply at start; restart hbagent"
            )
    values_a, values_b = _values(a), _values(b)
    for name in sorted(set(values_a) | set(values_b)):
        if values_a.get(name) != values_b.get(name):
            plan.changes.append(f"{name} {values_a.get(name, '(unset)')} -> {values_b.get(name, '(unset)')}")
    if old.authkeys != new.authkeys:
        plan.changes.append(f"authkeys: {_authkeys_text(old.authkeys)} -> {_authkeys_text(new.authkeys)}")
    _plan_groups(plan, old.resources, new.resources, os.path.join(new.directory, "haresources"))
    if list(old_mbb) != list(new_mbb):
        plan.changes.append(
            f"make_before_break {' '.join(old_mbb) or '(none)'} -> {' '.join(new_mbb) or '(none)'}"
        )
    if old_allow_crc != new_allow_crc:
        plan.changes.append(
            f"allow_crc {'yes' if old_allow_crc else 'no'} -> {'yes' if new_allow_crc else 'no'}"
        )
    return plan


def _plan_groups(plan: ReloadPlan, old_groups, new_groups, path: str) -> None:
    old_by_key = {g.key: g for g in old_groups}
    new_by_key = {g.key: g for g in new_groups}
    added = [k for k in new_by_key if k not in old_by_key]
    removed = [k for k in old_by_key if k not in new_by_key]
    moved = [k for k in new_by_key if k in old_by_key and new_by_key[k].node != old_by_key[k].node]
    changes = (("added", added), ("removed", removed), ("re-assigned", moved))
    what = [f"{label} {' '.join(keys)}" for label, keys in changes if keys]
    if what:
        plan.refusals.append(
            f"{path}: groups {'; '.join(what)}: local/foreign would no longer name the same groups on both "
            "nodes; restart hbagent on both nodes to apply"
        )
    for key, group in new_by_key.items():
        old = old_by_key.get(key)
        if old is not None and old.node == group.node:
            words_a = [r.word for r in old.resources]
            words_b = [r.word for r in group.resources]
            if words_a != words_b:
                plan.changes.append(
                    f"haresources group {key}: {' '.join(words_a)} -> {' '.join(words_b)} "
                    "(applies at its next start)"
                )
