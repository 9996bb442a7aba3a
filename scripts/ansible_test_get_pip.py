"""Offline stand-in (hakit.heartbeat) for the get-pip script that ansible-test downloads to bootstrap its venvs.

ansible-test runs it as ``python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools
--no-wheel`` inside a fresh venv without pip. The real script comes from a host this machine cannot reach;
Python's own ensurepip puts the pip bundled with that Python into the venv instead, which is all that
ansible-test needs from it (it then installs its pinned requirements with that pip).
"""

import ensurepip

ensurepip.bootstrap(upgrade=True)
