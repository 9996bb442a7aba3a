#!/usr/bin/python
# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: planned move of Heartbeat resource groups to or away from this node."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: switchover
short_description: Move Heartbeat resources to or away from a node, and wait until they have moved
version_added: 0.1.0
description:
  - Runs on the node whose share of the resources should change. Uses Heartbeat's own
    C(hb_takeover)/C(hb_standby) (Debian's C(heartbeat)) or C(hbagent takeover)/C(hbagent standby),
    then waits until C(cl_status rscstatus) says the node holds what was asked.
  - Idempotent, nothing is run when the node already holds what was asked.
options:
  hold:
    description:
      - What this node should hold afterwards. C(all) takes every group over,
        C(none) hands everything to the peer, C(local) keeps only the groups whose
        preferred node (first word of the haresources line) is this node.
    type: str
    choices: [all, local, none]
    default: all
  timeout:
    description: Seconds to wait for the move to complete before failing.
    type: int
    default: 60
extends_documentation_fragment:
  - hakit.heartbeat.engine
  - ansible.builtin.action_common_attributes
author:
  - hakit.heartbeat contributors
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Maintenance on web1 - move everything to web2 first
  hakit.heartbeat.switchover:
    hold: all
  delegate_to: web2

- name: Give web1 its own resources back
  hakit.heartbeat.switchover:
    hold: local
  delegate_to: web1
"""

RETURN = r"""
before:
  description: C(cl_status rscstatus) before the move.
  type: str
  returned: always
after:
  description: C(cl_status rscstatus) after the move (equal to I(before) in check mode).
  type: str
  returned: always
commands:
  description: The commands that were run (or would be run in check mode).
  type: list
  elements: str
  returned: always
elapsed:
  description: Seconds the move took.
  type: float
  returned: always
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakit.heartbeat.plugins.module_utils.heartbeat_engine import (
    ENGINE_ARGUMENT_SPEC,
    resolve_engine,
)

# rscstatus now -> the (tool, argument) steps that reach each target
PLAN = {
    "all": {"none": [("takeover", "all")], "local": [("takeover", "foreign")], "foreign": [("takeover", "local")]},
    "none": {"all": [("standby", "all")], "local": [("standby", "local")], "foreign": [("standby", "foreign")]},
    "local": {"all": [("standby", "foreign")], "none": [("takeover", "local")],
              "foreign": [("takeover", "local"), ("standby", "foreign")]},
}


def _rscstatus(module, status_cmd):
    rc, out, err = module.run_command([*status_cmd, "rscstatus"])
    if rc != 0:
        module.fail_json(msg=f"cannot read rscstatus (is heartbeat running?): {(out + err).strip()}")
    return out.strip()


def main():
    module = AnsibleModule(
        argument_spec={
            "hold": {"type": "str", "default": "all", "choices": ["all", "local", "none"]},
            **ENGINE_ARGUMENT_SPEC,
            "timeout": {"type": "int", "default": 60},
        },
        supports_check_mode=True,
    )
    hold = module.params["hold"]
    _engine, status_cmd, tools = resolve_engine(module)
    started = time.monotonic()
    before = _rscstatus(module, status_cmd)
    deadline = started + module.params["timeout"]
    while before == "transition" and time.monotonic() < deadline:
        time.sleep(0.5)
        before = _rscstatus(module, status_cmd)
    if before == "transition":
        module.fail_json(msg="resources stayed in transition; not starting a switchover now", before=before)

    steps = PLAN[hold].get(before, [])
    commands = [" ".join([*tools[tool], arg]) for tool, arg in steps]
    result = {"before": before, "after": before, "commands": commands, "elapsed": 0.0,
              "changed": bool(steps), "diff": {"before": f"rscstatus: {before}\n", "after": f"rscstatus: {hold}\n"}}
    if not steps or module.check_mode:
        module.exit_json(**result)

    after = before
    for tool, arg in steps:
        rc, out, err = module.run_command([*tools[tool], arg])
        if rc != 0:
            module.fail_json(msg=f"{' '.join([*tools[tool], arg])} failed: {(out + err).strip()}", **result)
    while time.monotonic() < deadline:
        after = _rscstatus(module, status_cmd)
        if after == hold:
            break
        time.sleep(0.5)
    result.update(after=after, elapsed=round(time.monotonic() - started, 2))
    if after != hold:
        module.fail_json(msg=f"resources did not reach '{hold}' within {module.params['timeout']}s (rscstatus: {after})",
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
