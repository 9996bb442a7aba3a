"""Helpers shared by the hbagent unit tests: a lab configuration directory and the CLI in a process."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]

LAB_HA_CF = "logfile /dev/null\nkeepalive 2\ndeadtime 10\nbcast eth0\nnode web1 web2\nauto_failback on\n"


def write_config(
    directory, ha_cf=LAB_HA_CF, haresources="web1 apache2\n", authkeys="auth 3\n3 md5 k\n", mode=0o600
):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(ha_cf)
    (directory / "haresources").write_text(haresources)
    (directory / "authkeys").write_text(authkeys)
    (directory / "authkeys").chmod(mode)
    return directory


def run_cli(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "hbagent", *argv], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60, check=False)  # fmt: skip
