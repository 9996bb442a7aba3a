"""`hbagent check-config` on directories that are wrong in every way a machine can make them wrong.

Issue 8: tracebacks on 7 of 17 bad directories, a hang on a FIFO, memory exhausted by /dev/zero, a
crash printing non-UTF-8 bytes. Here: one `path[:line]: reason` line per problem, exit 0 or 1, promptly,
under a strict UTF-8 locale and under plain ASCII output.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
HA_CF = "keepalive 1\ndeadtime 5\nudpport 694\nbcast eth0\nnode web1 web2\nauto_failback on\n"
HARESOURCES = "web1 IPaddr::10.0.0.50/24/eth0 apache2\n"
AUTHKEYS = b"auth 3\n3 md5 secret\n"


def good(d: pathlib.Path) -> pathlib.Path:
    d.mkdir()
    (d / "ha.cf").write_text(HA_CF)
    (d / "haresources").write_text(HARESOURCES)
    (d / "authkeys").write_bytes(AUTHKEYS)
    (d / "authkeys").chmod(0o600)
    return d


def replace(d, name, how):
    path = d / name
    if path.exists() or path.is_symlink():
        path.unlink()
    how(path)
    return d


def empty_files(d):
    for name in ("ha.cf", "haresources", "authkeys"):
        (d / name).write_text("")
    return d


BAD = {
    "missing directory": lambda d: d,
    "a file instead of a directory": lambda d: (d.write_text("x"), d)[1],
    "ha.cf is a directory": lambda d: replace(good(d), "ha.cf", lambda p: p.mkdir()),
    "ha.cf is a FIFO": lambda d: replace(good(d), "ha.cf", os.mkfifo),
    "ha.cf is /dev/zero": lambda d: replace(good(d), "ha.cf", lambda p: p.symlink_to("/dev/zero")),
    "haresources is /dev/urandom": lambda d: replace(good(d), "haresources", lambda p: p.symlink_to("/dev/urandom")),
    "ha.cf of 2 MB": lambda d: replace(good(d), "ha.cf", lambda p: p.write_text(HA_CF + "#" * 2_000_000)),
    "ha.cf in Latin-1": lambda d: replace(good(d), "ha.cf", lambda p: p.write_bytes(b"node caf\xe9\n" + HA_CF.encode())),
    "ha.cf with a NUL": lambda d: replace(good(d), "ha.cf", lambda p: p.write_bytes(HA_CF.encode() + b"node a\0b\n")),
    "ha.cf with U+2028": lambda d: replace(good(d), "ha.cf", lambda p: p.write_text(HA_CF + "node a\u2028b\n")),
    "deadtime of 309 digits": lambda d: replace(good(d), "ha.cf", lambda p: p.write_text(HA_CF + "deadtime " + "9" * 309)),
    "udpport in superscript": lambda d: replace(good(d), "ha.cf", lambda p: p.write_text("udpport \u00b2\n" + HA_CF)),
    "memreserve of 5000 digits": lambda d: replace(good(d), "ha.cf", lambda p: p.write_text(HA_CF + "memreserve " + "9" * 5000)),
    "netmask in superscript": lambda d: replace(good(d), "haresources",
                                                lambda p: p.write_text("web1 IPaddr::10.0.0.5/2\u00b2/eth0\n")),
    "authkeys index in superscript": lambda d: replace(good(d), "authkeys", lambda p: p.write_text("auth 1\n1\u00b2 crc\n")),
    "authkeys with a Latin-1 key": lambda d: replace(good(d), "authkeys", lambda p: p.write_bytes(b"auth 3\n3 md5 caf\xe9\n")),
    "hbagent.conf is a FIFO": lambda d: replace(good(d), "hbagent.conf", os.mkfifo),
    "hbagent.conf in Latin-1": lambda d: replace(good(d), "hbagent.conf", lambda p: p.write_bytes(b"allow_crc \xe9\n")),
    "empty files": lambda d: empty_files(good(d)),
}  # fmt: skip
LINE = re.compile(r"^\S+?(:\d+)?: \S.*$")


@pytest.mark.parametrize("encoding", ["utf-8:strict", "ascii:strict"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_check_config_reports_every_bad_directory_without_a_traceback(tmp_path, case, encoding):
    directory = BAD[case](tmp_path / "ha.d")
    if (directory / "authkeys").exists() and not (directory / "authkeys").is_symlink():
        (directory / "authkeys").chmod(0o600)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": encoding}
    result = subprocess.run([sys.executable, "-m", "hbagent", "check-config", str(directory)], capture_output=True,
                            timeout=30, env=env, cwd=ROOT, check=False)  # fmt: skip
    out, err = result.stdout.decode("ascii", "replace"), result.stderr.decode("ascii", "replace")
    assert "Traceback" not in out + err
    assert result.returncode in (0, 1), err
    if case != "authkeys with a Latin-1 key":  # that one is valid: keys are raw bytes
        assert result.returncode == 1
        lines = out.splitlines()
        assert lines and all(LINE.match(line) for line in lines), out
    assert all(line.startswith("warning: ") for line in err.splitlines()), err


def test_crc_is_warned_about_unless_allowed(tmp_path):
    directory = good(tmp_path / "ha.d")
    (directory / "authkeys").write_text("auth 3\n3 md5 secret\n1 crc\n")

    def check(*extra):
        return subprocess.run([sys.executable, "-m", "hbagent", "check-config", *extra], capture_output=True,
                              text=True, timeout=30, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              check=False)  # fmt: skip

    warned = check(str(directory))
    assert warned.returncode == 0
    assert f"warning: {directory}/authkeys: index 1 uses crc, which authenticates nothing" in warned.stderr
    assert "allow_crc yes" in warned.stderr
    single = check("--authkeys", str(directory / "authkeys"))
    assert single.returncode == 0 and "index 1 uses crc" in single.stderr
    assert "uses crc" not in check("--allow-crc", str(directory)).stderr
    (directory / "hbagent.conf").write_text("allow_crc yes\n")
    assert "uses crc" not in check(str(directory)).stderr
