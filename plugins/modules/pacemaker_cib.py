#!/usr/bin/python
# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: make sections of the Pacemaker CIB what they should be (cibadmin)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pacemaker_cib
short_description: Replace sections of the Pacemaker CIB when they differ from the wanted XML
version_added: 0.2.0
description:
  - For each section of O(sections), reads the live section with C(cibadmin --query --scope <section>),
    compares it, normalised (attribute order, whitespace, order of name/value pairs and constraints), with
    the wanted XML, and replaces it with C(cibadmin --replace --scope <section> --xml-text ...) only when
    they differ.
  - What others own is neither compared nor removed - name/value pairs the wanted sets do not name
    (Pacemaker's own C(dc-version), C(cluster-infrastructure)..., an operator's C(maintenance-mode)), and
    C(crm_resource)'s C(cli-prefer-*)/C(cli-ban-*) constraints.
  - Run it on one node of the cluster (C(run_once)); Pacemaker distributes the CIB.
options:
  sections:
    description:
      - Section name to its wanted XML, whose root element is the section (for example
        C(<resources>...</resources>)). Known sections are C(crm_config), C(rsc_defaults), C(op_defaults),
        C(resources) and C(constraints).
      - Sections are replaced in the order C(crm_config), C(rsc_defaults), C(op_defaults), C(resources),
        C(constraints), so constraints never name a resource that does not exist yet.
    type: dict
    required: true
  cibadmin:
    description: Path or name of C(cibadmin).
    type: str
    default: cibadmin
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the module reads the CIB and reports what it would replace.
  diff_mode:
    support: full
    details: The diff shows every changed section, normalised, before and after.
  platform:
    support: full
    platforms: posix
requirements:
  - Pacemaker running on the node (C(cibadmin)).
seealso:
  - module: hakit.heartbeat.heartbeat_info
author:
  - hakit.heartbeat maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Resources, constraints and properties from the heartbeat role's data
  hakit.heartbeat.pacemaker_cib:
    sections: "{{ heartbeat_resource_groups | hakit.heartbeat.pcmk_cib(['web1', 'web2'], 'on') }}"
  run_once: true

- name: One section only
  hakit.heartbeat.pacemaker_cib:
    sections:
      rsc_defaults: >-
        <rsc_defaults><meta_attributes id="rsc-options">
        <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="1000"/>
        </meta_attributes></rsc_defaults>
"""

RETURN = r"""
replaced:
  description: The sections that were (in check mode, would be) replaced, in the order of replacement.
  type: list
  elements: str
  returned: always
  sample: [resources, constraints]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakit.heartbeat.plugins.module_utils.pacemaker import (
    SECTIONS,
    normalise_section,
)


class CibSections:
    """Reads, compares and replaces CIB sections through cibadmin."""

    def __init__(self, module: AnsibleModule, cibadmin: str):
        self.module = module
        self.cibadmin = cibadmin

    def query(self, section: str) -> str | None:
        rc, out, err = self.module.run_command([self.cibadmin, "--query", "--scope", section])
        if rc == 105:  # ENXIO: the section does not exist yet (rsc_defaults on a fresh CIB)
            return None
        if rc != 0:
            self.module.fail_json(
                msg=f"cibadmin --query --scope {section} failed (exit {rc}): {(err or out).strip()}"
            )
        return out

    def replace(self, section: str, xml: str, exists: bool) -> None:
        # a section that does not exist yet is created under <configuration>; --replace would fail (105)
        if exists:
            argv = [self.cibadmin, "--replace", "--scope", section, "--xml-text", xml]
        else:
            argv = [self.cibadmin, "--create", "--scope", "configuration", "--xml-text", xml]
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(
                msg=f"cibadmin --replace --scope {section} failed (exit {rc}): {(err or out).strip()}"
            )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "sections": {"type": "dict", "required": True},
            "cibadmin": {"type": "str", "default": "cibadmin"},
        },
        supports_check_mode=True,
    )
    wanted = module.params["sections"]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        module.fail_json(msg=f"unknown CIB section(s) {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    cib = CibSections(module, module.params["cibadmin"])
    replaced, before, after = [], [], []
    for section in [s for s in SECTIONS if s in wanted]:
        current = cib.query(section)
        try:
            current_text, wanted_text = normalise_section(section, str(wanted[section]), current)
        except (ValueError, SyntaxError) as exc:  # ET.ParseError is a SyntaxError
            module.fail_json(msg=f"sections.{section}: {exc}")
        if current_text == wanted_text:
            continue
        replaced.append(section)
        before.append(current_text)
        after.append(wanted_text)
        if not module.check_mode:
            cib.replace(section, wanted_text, current is not None)
    result = {"changed": bool(replaced), "replaced": replaced}
    if module._diff and replaced:
        result["diff"] = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n",
                          "before_header": "CIB (live)", "after_header": "CIB (wanted)"}  # fmt: skip
    module.exit_json(**result)


if __name__ == "__main__":
    main()
