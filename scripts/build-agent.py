"""Build the hbagent zipapp: `python3 scripts/build-agent.py dist/hbagent.pyz`.

Stdlib only, reproducible (sorted entries, fixed timestamps).  hbagent/config.py is a symlink to
plugins/module_utils/heartbeat_config.py: its target's content is stored under the link's name.
"""

import argparse
import os
import pathlib
import stat
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hbagent"
SHEBANG = b"#!/usr/bin/env python3\n"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MAIN = b'''"""hbagent zipapp entry point."""

import sys

from hbagent.cli import main

sys.exit(main())
'''


def package_files() -> list[pathlib.Path]:
    files = []
    # the modules, and the data they read with pkgutil.get_data (the systemd unit template)
    for path in sorted([*PACKAGE.rglob("*.py"), *(PACKAGE / "data").rglob("*")]):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        if not path.exists():  # a dangling symlink would ship a broken agent
            raise SystemExit(f"build-agent: {path} is a broken symlink")
        files.append(path)
    return files


def entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


def build(out: pathlib.Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(SHEBANG)
        with zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(entry("__main__.py"), MAIN)
            for path in package_files():
                name = path.relative_to(ROOT).as_posix()
                archive.writestr(entry(name), path.read_bytes())  # read_bytes follows the symlink
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, help="output file, e.g. dist/hbagent.pyz")
    args = parser.parse_args()
    build(args.out)
    print(f"built {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
