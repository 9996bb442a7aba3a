#!/usr/bin/python
# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: planned move of Heartbeat resource groups to or away from this node."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: switchover
short_description: Move cluster resource groups to or away from a node, and wait until they have moved
version_added: 0.1.0
description:
  - Runs on the node whose share of the resources should change, and moves them with the engine's own
    tools, C(hb_takeover) and C(hb_standby) (Debian's C(heartbeat) package) or C(hbagent takeover) and
    C(hbagent standby) (the Python agent); see O(engine).
  - With O(engine=pacemaker), runs C(crm_resource --move --resource <group> --node <node>) for each group that must
    move (to this node, or away to the active node of the group's highest location score). Once the node holds
    O(hold), C(crm_resource --clear --resource <group>) removes the move constraints (C(cli-prefer-*),
    C(cli-ban-*)) of every group that is then on its preferred node, so nothing pins it and auto_failback works
    as before. A group moved away from its preferred node keeps its C(cli-prefer) constraint, which is what
    holds it there (with auto_failback on the scores would bring it back at once); the switchover that brings it
    home clears it.
  - Then waits until C(cl_status rscstatus) says that the node holds O(hold) (Pacemaker - until the groups
    run where O(hold) puts them and the cluster is idle).
  - Idempotent, nothing is run when the node already holds O(hold).
  - Waits up to O(timeout) seconds for resources that are in transition before it plans the move.
  - Fails, naming the command and its answer, when the daemon is down or answers a state that is not one of
    V(none), V(local), V(foreign), V(all) or V(transition); it never reports an unknown state as success.
options:
  hold:
    description:
      - What this node should hold afterwards. There is no default, because a move is never implied.
      - V(all) takes every group over.
      - V(none) hands everything to the peer.
      - V(local) keeps only the groups whose preferred node (first word of the C(haresources) line) is this
        node, and hands the peer's groups back to it.
    type: str
    choices: [all, local, none]
    required: true
  timeout:
    description: Seconds to wait for resources in transition to settle, and again for the move to complete.
    type: int
    default: 60
extends_documentation_fragment:
  - hakit.heartbeat.engine
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports the commands it would run and whether anything would change, and runs none of them.
  diff_mode:
    support: full
    details: The diff shows C(rscstatus) before and after.
  platform:
    support: full
    platforms: posix
requirements:
  - Python 3.11 or later on the node (Debian 12 and 13 have it).
seealso:
  - module: hakit.heartbeat.heartbeat_info
author:
  - hakit.heartbeat maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Maintenance on web1 - move everything to web2 first
  hakit.heartbeat.switchover:
    hold: all
  delegate_to: web2

- name: Give web1 its own resources back
  hakit.heartbeat.switchover:
    hold: local
    timeout: 90
  delegate_to: web1

- name: What would a standby of web1 run?
  hakit.heartbeat.switchover:
    hold: none
  delegate_to: web1
  check_mode: true
  register: plan
"""

RETURN = r"""
engine:
  description: The daemon that was asked, V(heartbeat), V(agent) or V(pacemaker) (the one found with O(engine=auto)).
  type: str
  returned: always
  sample: heartbeat
before:
  description: C(rscstatus) before the move (after any transition settled).
  type: str
  returned: always
  sample: foreign
after:
  description:
    - C(rscstatus) after the move; equal to RV(before) in check mode or when nothing was to do.
    - Pacemaker - the word for what the node then runs, which may differ from O(hold) where a category is empty
      (V(local) after O(hold=all) on a node preferred for every group; V(none) after O(hold=local) on a node
      preferred for none).
  type: str
  returned: always
  sample: all
commands:
  description: The commands that were run (or would be run in check mode), in order (Pacemaker - the moves, then the clears).
  type: list
  elements: str
  returned: always
  sample: ["/usr/share/heartbeat/hb_takeover local"]
elapsed:
  description: Seconds the move took, from the first C(rscstatus) to the last.
  type: float
  returned: always
  sample: 4.2
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakit.heartbeat.plugins.module_utils.heartbeat_engine import (
    ENGINE_ARGUMENT_SPEC,
    HOLD_TARGETS,
    EngineError,
    resolve_engine,
)

POLL_S = 0.5


def switch(module, engine, result):
    """Move, filling `result` as it goes; return the problem that stops the move, or None."""
    hold, timeout = module.params["hold"], module.params["timeout"]
    started = time.monotonic()
    deadline = started + timeout
    result["engine"] = engine.name
    if not engine.running():
        return f"the {engine.name} daemon is not running on this node: nothing can be moved"
    before = engine.rscstatus()
    while before == "transition" and time.monotonic() < deadline:
        time.sleep(POLL_S)
        before = engine.rscstatus()
    result.update(before=before, after=before)
    if before == "transition":
        return f"resources stayed in transition for {timeout}s; not starting a switchover"

    steps = engine.move_commands(before, hold)
    # run once the move is done (Pacemaker: clear the move constraints of groups back on their node)
    settle = engine.settle_commands(hold)
    result.update(
        commands=[" ".join(argv) for argv in steps + settle],
        changed=bool(steps or settle),
        diff={"before": f"rscstatus: {before}\n", "after": f"rscstatus: {hold}\n"},
    )
    if not (steps or settle) or module.check_mode:
        return None

    deadline = time.monotonic() + timeout
    for argv in steps:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            return f"{' '.join(argv)} failed (rc {rc}): {(out + err).strip()}"
    after = engine.rscstatus()
    while not engine.reached(after, hold) and time.monotonic() < deadline:
        time.sleep(POLL_S)
        after = engine.rscstatus()
        result["after"] = after
    result.update(after=after, elapsed=round(time.monotonic() - started, 2))
    if not engine.reached(after, hold):
        return f"resources did not reach '{hold}' within {timeout}s (rscstatus: {after})"
    for argv in settle:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            return f"{' '.join(argv)} failed (rc {rc}) after the move: {(out + err).strip()}"
    return None


def main():
    module = AnsibleModule(
        argument_spec={
            "hold": {"type": "str", "required": True, "choices": list(HOLD_TARGETS)},
            "timeout": {"type": "int", "default": 60},
            **ENGINE_ARGUMENT_SPEC,
        },
        supports_check_mode=True,
    )
    if module.params["timeout"] < 0:
        module.fail_json(msg=f"timeout must be 0 or more seconds, got {module.params['timeout']}")
    result = {"changed": False, "engine": None, "before": None, "after": None, "commands": [], "elapsed": 0.0}
    try:
        problem = switch(module, resolve_engine(module), result)
    except EngineError as exc:
        problem = str(exc)
    if problem:
        module.fail_json(msg=problem, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
