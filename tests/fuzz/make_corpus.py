"""Writes tests/fuzz/corpus/*.json: every input of issue 8 that crashed, flooded or fooled the agent
(measured on main at d7fadc2), as fuzz seeds and as plain regression tests
(tests/unit/hbagent/test_hostile_input.py replays each one and checks the outcome).

Each entry: name, why (what it did before), b64 (the bytes); config entries also `file`. Kept as a
script so that the corpus can be regenerated and reviewed: `python tests/fuzz/make_corpus.py`.
"""

from __future__ import annotations

import base64
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hbagent import wire  # noqa: E402
from hbagent.wire import T_BINARY, T_LIST, T_STRING, T_STRUCT, Message  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "corpus"


def entry(name: str, why: str, data: bytes, **extra) -> dict:
    return {"name": name, "why": why, **extra, "b64": base64.b64encode(data).decode()}


def ns(fields) -> bytes:
    """A netstring message body (no trailing auth): membership entries are fed past authentication."""
    return wire.netstring_encode(Message(fields))


def std(mtype: str, **values) -> list:
    base = {"src": "web2", "seq": "5", "hg": "64", "ts": "6b4f0000"}
    base.update(values)
    return [(T_STRING, "t", mtype)] + [(T_STRING, k, v) for k, v in base.items() if v is not None]


WIRE = [
    entry("classic-binary-auth", "wire._split_auth: TypeError on a binary auth field; one datagram ended hbagent run",
          b">>>\n(1)auth=YWJj\n<<<\n"),
    entry("classic-compressed-auth", "the same with a type-4 auth field", b">>>\n(4)auth=web2\n<<<\n"),
    entry("classic-auth-5000-digits", "wire._split_auth: ValueError (int() of more than 4,300 digits)",
          b">>>\nauth=" + b"9" * 5000 + b" 0\n<<<\n"),
    entry("classic-auth-unicode-digit", "auth index in Unicode digits", b">>>\nauth=\xc2\xb2 abc\n<<<\n"),
    entry("netstring-auth-60-digits", "a trailing auth index of 60 digits",
          b"###\n8:(0)t=abc,%%%\n63:" + b"9" * 60 + b" x,"),
    entry("netstring-no-trailing-auth", "a signed region without its auth string", b"###\n8:(0)t=abc,%%%\n"),
    entry("classic-large-unauthenticated", "60 ms of parsing before the key was checked: ~15 packets/s filled a core",
          b">>>\n" + b"".join(b"f%d=%s\n" % (i, b"v" * 8) for i in range(2000)) + b"auth=3 " + b"0" * 32 + b"\n<<<\n"),
    entry("netstring-large-unauthenticated", "the same in netstring form: parsed in full before the key",
          b"###\n" + b"".join(b"%d:(0)f%d=vvvvvvvv," % (len(b"(0)f%d=vvvvvvvv" % i), i) for i in range(1500))
          + b"%%%\n34:3 " + b"0" * 32 + b","),
]  # fmt: skip

MEMBERSHIP = [
    entry("binary-ts", "membership._hex: TypeError on a binary ts (membership.py:143)",
          ns([(T_STRING, "t", "x"), (T_STRING, "src", "web2"), (T_BINARY, "ts", b"\1\2"), (T_STRING, "seq", "5")])),
    entry("list-ts", "membership._hex: TypeError on a list ts",
          ns([(T_STRING, "t", "x"), (T_STRING, "src", "web2"), (T_LIST, "ts", ["1"]), (T_STRING, "seq", "5")])),
    entry("huge-dt", "float(dead_ms) OverflowError in _dead_after (membership.py:254): the next tick raised",
          ns(std("status", st="active", dt="f" * 400))),
    entry("huge-seq", "f-string of a 4,800-digit seq: ValueError (membership.py:430)", ns(std("x", seq="f" * 4000))),
    entry("huge-hg", "a 4,800-digit generation: the replay warning for later packets raised",
          ns(std("status", st="active", hg="f" * 4000))),
    entry("huge-nak-seq", "f-string of a 4,800-digit nak seq: ValueError (membership.py:517)",
          ns(std("NS_nak_rexmit", seq=None, dest="web1", firstseq="f" * 4000))),
    entry("binary-rexmit-seq", "int() of a binary firstseq: TypeError (membership.py:522)",
          ns([*std("NS_rexmit", seq=None, dest="web1"), (T_BINARY, "firstseq", b"1"), (T_STRING, "lastseq", "1")])),
    entry("huge-rexmit-seq", "int() of a 5,000-digit lastseq",
          ns(std("NS_rexmit", seq=None, dest="web1", firstseq="1", lastseq="9" * 5000))),
    entry("unicode-rexmit-seq", "Unicode digits in firstseq",
          ns(std("NS_rexmit", seq=None, dest="web1", firstseq="\u00b2", lastseq="\u00b2"))),
    entry("empty-cstatus-name", "an empty cn echoed in the reply: WireError from send() inside receive",
          ns(std("query-cstatus", dest="web1", cn="", from_id="7"))),
    entry("struct-from-id", "a struct from_id echoed in the reply", ns([*std("query-cstatus", dest="web1", cn="x"), (T_STRUCT, "from_id", Message.of(a="b"))])),
    entry("struct-status", "a struct as status word", ns([*std("status", dt="2710"), (T_STRUCT, "st", Message.of(a="b"))])),
]  # fmt: skip

CONFIG = [
    entry("time-309-digits", "parse_msec: float() is inf, int(inf) OverflowError", b"deadtime " + b"9" * 309 + b"\n",
          file="ha.cf"),
    entry("time-400-digits-decimals", "the same with decimals", b"keepalive 1." + b"9" * 400 + b"\n", file="ha.cf"),
    entry("udpport-superscript", "'\u00b2'.isdigit() is true, int('\u00b2') raises", "udpport \u00b2694\n".encode(),
          file="ha.cf"),
    entry("mcast-port-superscript", "mcast port in Unicode digits", "mcast eth0 239.0.0.1 69\u00b2 1 0\n".encode(),
          file="ha.cf"),
    entry("memreserve-5000-digits", "int() of more than 4,300 digits", b"memreserve " + b"9" * 5000 + b"\n",
          file="ha.cf"),
    entry("hopfudge-negative-5000-digits", "the same, negative", b"hopfudge -" + b"9" * 5000 + b"\n", file="ha.cf"),
    entry("latin1-comment", "non-UTF-8 bytes: printed under a strict UTF-8 locale, check-config crashed",
          b"node web1 web2\n# caf\xe9\nbcast eth0\n", file="ha.cf"),
    entry("form-feed-line", "a form feed split the line for Python, not for Heartbeat: wrong line numbers",
          b"node web1\x0cweb2\nbcast eth0\n", file="ha.cf"),
    entry("unicode-line-separator", "U+2028 split the line", "node web1\u2028bogus x\nbcast eth0\n".encode(),
          file="ha.cf"),
    entry("nul-byte", "a NUL ends a line for Heartbeat's C parser", b"node web1 web2\x00bcast eth0\nbcast eth0\n",
          file="ha.cf"),
    entry("ipaddr-mask-superscript", "netmask in Unicode digits", "web1 IPaddr::10.0.0.1/2\u00b24/eth0\n".encode(),
          file="haresources"),
    entry("authkeys-index-superscript", "auth index in Unicode digits", "auth 1\n1\u00b2 crc\n".encode(),
          file="authkeys"),
    entry("authkeys-key-alone", "a key alone on its line was printed in the error", b"auth 3\nSuperSecretKey\n",
          file="authkeys"),
    entry("hbagent-conf-latin1", "hbagent.conf in Latin-1", b"make_before_break caf\xe9\n", file="hbagent.conf"),
]  # fmt: skip

CONTROL = [
    entry("clientstatus-empty-client", "cl-status clientstatus web2 \"\": unhandled WireError in the event loop",
          b'{"cmd": "clientstatus", "node": "web2", "client": ""}'),
    entry("deep-nesting", "json.loads: RecursionError, not a ValueError", b'{"cmd": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
    entry("timeout-inf", "int(inf): OverflowError",
          b'{"cmd": "clientstatus", "node": "web2", "client": "x", "timeout_ms": 1e999}'),
    entry("timeout-text", "int('x'): ValueError", b'{"cmd": "clientstatus", "node": "web2", "client": "x", '
                                                  b'"timeout_ms": "x"}'),
    entry("timeout-negative", "a deadline in the past",
          b'{"cmd": "clientstatus", "node": "web2", "client": "x", "timeout_ms": -5}'),
    entry("node-list", "str(list) as node name", b'{"cmd": "clientstatus", "node": ["web2"], "client": "x"}'),
    entry("which-object", "an object as `which`", b'{"cmd": "standby", "which": {"a": 1}}'),
    entry("cmd-unhashable", "a list as command", b'{"cmd": ["status"]}'),
    entry("number-5000-digits", "json.loads: ValueError (too many digits)",
          b'{"cmd": "status", "x": ' + b"9" * 5000 + b"}"),
]  # fmt: skip


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, entries in (
        ("wire", WIRE),
        ("membership", MEMBERSHIP),
        ("config", CONFIG),
        ("control", CONTROL),
    ):
        (OUT / f"{name}.json").write_text(json.dumps({"entries": entries}, indent=1) + "\n")
        print(f"{OUT / name}.json: {len(entries)} entries")


if __name__ == "__main__":
    main()
