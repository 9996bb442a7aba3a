"""Offline stand-in for the get-pip script that ansible-test downloads to bootstrap its virtual environments.

ansible-test runs it as ``python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools
--no-wheel`` inside a fresh venv without pip. The real script comes from a host this machine cannot
reach; Python's own ensurepip gives the same result: pip in that venv, then the pinned pip from the
configured package index (the bundled one is kept when the index has no such version).
"""

import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
packages = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
if packages:
    pinned = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages], check=False
    )
    if pinned.returncode != 0:
        print(
            f"get-pip stand-in: kept ensurepip's pip, could not install {' '.join(packages)}", file=sys.stderr
        )
