"""The systemd unit of hbagent: one template, hbagent/data/hbagent.service.in, shipped in the zipapp
(`hbagent print-unit`) and rendered by the collection's role (same placeholders, same values)."""

from __future__ import annotations

import pkgutil

UNIT_NAME = "hbagent.service"
TEMPLATE = "data/hbagent.service.in"
DEFAULT_PYZ = "/usr/local/lib/hakit/hbagent.pyz"
DEFAULT_PYTHON = "/usr/bin/python3"


def template() -> str:
    data = pkgutil.get_data("hbagent", TEMPLATE)
    if data is None:
        raise FileNotFoundError(TEMPLATE)
    return data.decode()


def unit_text(pyz: str = DEFAULT_PYZ, python: str = DEFAULT_PYTHON) -> str:
    for name, value in (("--pyz", pyz), ("--python", python)):
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"{name} must be an absolute path without spaces, not {value!r}")
    return template().replace("@PYTHON@", python).replace("@PYZ@", pyz)
