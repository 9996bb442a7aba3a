"""hbagent.wire against the 36 captured Heartbeat 3.0.6 packets, plus round-trips and bad input."""

import base64
import bz2
import json
import pathlib
import zlib

import pytest

from hbagent import wire
from hbagent.config import AuthKeys
from hbagent.wire import T_BINARY, T_COMPRESSED, T_LIST, T_STRING, T_STRUCT, Message, WireError

# packets captured from real Heartbeat 3.0.6 nodes, kept in the repository as test data
VECTORS_PATH = pathlib.Path(__file__).resolve().parents[2] / "data/heartbeat-test-vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text())["vectors"]
LAB_KEYS = {3: ("md5", b"mot_de_passe"), 1: ("crc", None), 2: ("sha1", b"mot_de_passe")}


def keys(active=3, table=None):
    return AuthKeys(active, dict(table or LAB_KEYS))


def vector_id(vector):
    return f"{vector['type']}-{vector['method']}"


def test_all_36_vectors_are_present():
    assert len(VECTORS) == 36, f"test vectors not found at {VECTORS_PATH}"


@pytest.mark.parametrize("vector", VECTORS, ids=[vector_id(v) for v in VECTORS])
def test_vector(vector):
    packet = base64.b64decode(vector["packet_b64"])
    sender = keys(vector["authindex"])
    assert len(packet) == vector["packet_length"]

    msg = wire.decode(packet, sender)
    assert msg.type == vector["type"]
    # inner classic digest: same input bytes, same token
    assert wire.classic_auth_input(msg) == base64.b64decode(vector["classic_auth_input_b64"])
    assert msg["auth"] == f"{vector['authindex']} {vector['auth_field_digest']}"
    assert wire.auth_field_value(msg, sender) == msg["auth"]
    wire.check_auth_field(msg, sender)
    # trailing digest over the signed region
    parsed, authstr, signed_len = wire.netstring_decode(packet)
    assert parsed == msg
    assert (authstr, signed_len) == (vector["trailing_auth"], vector["signed_region_length"])
    assert wire.trailing_auth(packet[:signed_len], sender) == b"%d:%s," % (len(authstr), authstr.encode())
    # re-encoding: byte-identical, whether or not the auth field was there before
    assert wire.netstring_encode(msg) == packet[:signed_len]
    assert wire.encode(msg, sender) == packet
    assert wire.encode(msg.copy().remove("auth"), sender) == packet
    # a receiver whose own outgoing index is md5 accepts every captured method
    wire.decode(packet, keys(3))


def test_vectors_cover_the_haresources_message_types():
    types = {v["type"] for v in VECTORS}
    assert {"status", "NS_ackmsg", "NS_rexmit", "reqnodes", "repnodes", "starting", "resource"} <= types
    assert {v["method"] for v in VECTORS} == {"md5", "sha1", "crc"}


def test_binary_uuid_travels_raw():
    vector = next(v for v in VECTORS if v["type"] == "status" and v["method"] == "md5")
    msg = wire.decode(base64.b64decode(vector["packet_b64"]))
    assert msg.fields[5][:2] == (T_BINARY, "srcuuid")
    assert msg["srcuuid"] == bytes.fromhex("fb98ed659e8945c4a46459cbcfc66b61")


# ---------------------------------------------------------------------------------------------
# authentication


def test_crc_check_value_and_unpadded_hex():
    assert wire.crc32_posix(b"123456789") == 0x765E7680
    small = next(
        bytes([i, j]) for i in range(256) for j in range(256) if wire.crc32_posix(bytes([i, j])) < 1 << 24
    )
    token = wire.digest("crc", None, small)
    assert len(token) < 8 and int(token, 16) == wire.crc32_posix(small) and not token.startswith("0")


def test_hmac_methods_match_stdlib_hmac():
    import hashlib
    import hmac

    long_key = b"k" * 73  # longer than a block: hashed first, as RFC 2104 says
    assert wire.digest("md5", long_key, b"x") == hmac.new(long_key, b"x", hashlib.md5).hexdigest()
    assert wire.digest("sha1", b"key", b"x") == hmac.new(b"key", b"x", hashlib.sha1).hexdigest()
    with pytest.raises(WireError, match="unknown authentication method"):
        wire.digest("sha256", b"k", b"x")


def sample(**extra):
    return Message.of(t="status", st="active", dt="2710", protocol="1", src="web2", srcuuid=bytes(range(16)),
                      seq="1", hg="6b06ee23", ts="6b06ee7a", ttl="3", **extra)  # fmt: skip


def test_tampered_packet_is_refused_and_the_reason_holds_no_token():
    """3.0.6 logs `authtoken=<received>, authstr=<expected>`: the expected token of a forged packet,
    valid for it. The reason here names no token at all."""
    packet = wire.encode(sample(), keys())
    tampered = packet.replace(b"active", b"activf")
    with pytest.raises(WireError) as refused:
        wire.decode(tampered, keys())
    assert str(refused.value) == "authtoken does not match"
    signed = tampered[: tampered.index(b"%%%\n") + 4]
    assert wire.digest("md5", LAB_KEYS[3][1], signed) not in str(refused.value)
    assert wire.decode(tampered)["st"] == "activf"  # without keys nothing is checked


def test_wrong_key_unknown_index_and_missing_auth():
    packet = wire.encode(sample(), keys())
    with pytest.raises(WireError, match="authtoken does not match"):
        wire.decode(packet, keys(3, {3: ("md5", b"other")}))
    with pytest.raises(WireError, match=r"Invalid authentication \[3\] in message!"):
        wire.decode(packet, keys(1, {1: ("crc", None)}))
    signed = wire.netstring_encode(sample())
    with pytest.raises(WireError, match="error in getting auth string"):
        wire.decode(signed, keys())
    with pytest.raises(WireError, match="Bad/invalid auth token"):
        wire.decode(signed + b"3:abc,", keys())


def test_trailing_auth_uses_the_receivers_own_key():
    """Spec 4.3: method of the received index, key of the receiver's outgoing index."""
    sender = keys(2, {2: ("sha1", b"shared"), 3: ("md5", b"other")})
    packet = wire.encode(sample(), sender)
    # receiver sends with index 3 (key "shared"); its index 2 has a different key: still accepted
    wire.decode(packet, keys(3, {2: ("sha1", b"not-used"), 3: ("md5", b"shared")}))
    with pytest.raises(WireError, match="authtoken does not match"):
        wire.decode(packet, keys(3, {2: ("sha1", b"shared"), 3: ("md5", b"different")}))


def test_netstring_format_does_not_check_the_inner_auth_field():
    msg = sample(auth="3 0000")
    signed = wire.netstring_encode(msg)
    packet = signed + wire.trailing_auth(signed, keys())
    assert wire.decode(packet, keys())["auth"] == "3 0000"


def test_msgfmt_netstring_sender_adds_no_inner_auth_field():
    packet = wire.encode(sample(), keys(), classic_auth=False)
    assert "auth" not in wire.decode(packet, keys())
    assert b"auth=" not in packet


def test_encode_puts_auth_last_and_does_not_modify_the_message():
    msg = sample()
    before = msg.copy()
    decoded = wire.decode(wire.encode(msg, keys()), keys())
    assert decoded.fields[-1][1] == "auth" and decoded.fields[:-1] == msg.fields
    assert msg == before


# ---------------------------------------------------------------------------------------------
# classic format


def test_classic_round_trip_with_every_type():
    inner = Message.of(a="1", b="two\nlines")
    nested = Message.of(x="y", inner=inner)
    msg = Message([(T_STRING, "t", "client"), (T_STRING, "text", "line1\nline2"), (T_BINARY, "raw", b"\x00\xff=\n"),
                   (T_STRUCT, "nested", nested), (T_LIST, "items", ["a", "bb", ""]),
                   (T_COMPRESSED, "cz", zlib.compress(b"###\n%%%\n"))])  # fmt: skip
    text = wire.classic_encode(msg)
    assert text.startswith(b">>>\nt=client\ntext=line1\x13line2\n(1)raw=AP89Cg==\n(2)nested=>>>\x14x=y\x14")
    assert b"(3)items=1:a,2:bb,0:,\n" in text
    assert text.endswith(b"<<<\n")
    assert wire.classic_decode(text) == msg
    assert wire.netstring_decode(wire.netstring_encode(msg))[0] == msg


def test_classic_depth_symbols():
    assert [wire._depth_symbol(d)[0] for d in (0, 1, 11, 12, 15)] == [0x14, 0x15, 0x1F, 0x0F, 0x12]


def test_classic_message_is_authenticated_by_its_auth_field():
    msg = sample()
    msg.add("auth", wire.auth_field_value(msg, keys()))
    text = wire.classic_encode(msg)
    assert wire.decode(text, keys()) == msg
    assert wire.decode(text + b"\0", keys()) == msg
    forged = text.replace(b"st=active", b"st=dead\n\n")
    with pytest.raises(WireError, match=r"^classic message failed authentication$"):
        wire.decode(forged, keys())
    with pytest.raises(WireError, match="Bad/invalid auth token"):
        wire.decode(wire.classic_encode(sample(auth="x")), keys())
    with pytest.raises(WireError, match="Bad/invalid auth token"):
        wire.decode(wire.classic_encode(sample()), keys())


def test_classic_blank_lines_are_skipped():
    assert wire.classic_decode(b">>>\n\nt=x\n\nsrc=a\n<<<\n") == Message.of(t="x", src="a")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b">>>\nt=status\nst=\n<<<\n", "field st has an empty value"),
        (b">>>\nt=status\nnovalue\n<<<\n", "bad classic line"),
        (b">>>\n=x\n<<<\n", "bad classic line"),
        (b">>>\nt=status\n", "no <<< end marker"),
        (b">>>\n(1)raw=!!!!\n<<<\n", "bad base64 value"),
        (b">>>\n(7)x=y\n<<<\n", "unknown field type 7"),
        (b"<<<\n", "unknown message format"),
        (b"", "unknown message format"),
    ],
)
def test_classic_malformed(data, reason):
    with pytest.raises(WireError, match=reason):
        wire.decode(data)


def test_empty_values_are_never_encoded_in_classic_form():
    with pytest.raises(WireError, match="field st has an empty value"):
        wire.encode(Message.of(t="status", st=""), keys())
    with pytest.raises(WireError, match="empty value"):
        wire.classic_encode(Message.of(t="x", raw=b""))


# ---------------------------------------------------------------------------------------------
# netstring format: malformed input


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"###\n", "no %%% end marker"),
        (b"###\n11:(0)t=status", "truncated field"),
        (b"###\n11:(0)t=statusX%%%\n", "not terminated by ','"),
        (b"###\nxx:(0)t=status,%%%\n", "bad field length"),
        (b"###\n9:0)t=statu,%%%\n", "expected \\(type\\)name=value"),
        (b"###\n10:(10)t=stat,%%%\n", "expected \\(type\\)name=value"),
        (b"###\n9:(0)t_stat,%%%\n", "expected \\(type\\)name=value"),
        (b"###\n6:(0)=ab,%%%\n", "expected \\(type\\)name=value"),
        (b"###\n7:(9)t=ab,%%%\n", "unknown field type 9"),
        (b"###\n9:(2)s=abcd,%%%\n", "does not start with ###"),
        (b"###\n17:(2)s=###\n%%%\nxxxx,%%%\n", "trailing bytes after nested message"),
        (b"###\n9:(3)l=3:ab,%%%\n", "truncated list item"),
        (b"###\n8:(0)t=abc,%%%\n34:3 abc,", "truncated auth string"),
        (b"###\n8:(0)t=abc,%%%\n5:3 abc,junk", "trailing bytes after the auth string"),
        (b"###\n8:(0)t=abc,%%%\n70:3 " + b"a" * 68 + b",", "auth string too long"),
    ],
)
def test_netstring_malformed(data, reason):
    with pytest.raises(WireError, match=reason):
        wire.decode(data)


def test_trailing_nul_after_auth_is_tolerated():
    packet = wire.encode(sample(), keys())
    assert wire.decode(packet + b"\0", keys()) == wire.decode(packet, keys())


# ---------------------------------------------------------------------------------------------
# compression and limits


@pytest.mark.parametrize("algorithm", ["zlib", "bz2"])
@pytest.mark.parametrize("classic", [True, False])
def test_compressed_payload_is_unwrapped(algorithm, classic):
    original = sample(big="x" * 5000)
    wrapper = wire.compress_wrapper(original, algorithm, classic=classic)
    assert [n for _t, n, _v in wrapper] == ["_compressed_payload", "_compression_algorithm"]
    packet = wire.encode(wrapper, keys())
    assert len(packet) < 1000
    assert wire.decode(packet, keys()) == original


def test_compressed_payload_errors():
    def wrapped(payload, algorithm="zlib"):
        return wire.encode(Message([(T_BINARY, "_compressed_payload", payload),
                                    (T_STRING, "_compression_algorithm", algorithm)]), keys())  # fmt: skip

    with pytest.raises(WireError, match="cannot decompress"):
        wire.decode(wrapped(b"not zlib"), keys())
    with pytest.raises(WireError, match="unknown compression algorithm lzma"):
        wire.decode(wrapped(b"x", "lzma"), keys())
    bomb = zlib.compress(b">>>\n" + b"a=" + b"b" * wire.MAXUNCOMPRESSED + b"\n<<<\n")
    with pytest.raises(WireError, match="exceeds"):
        wire.decode(wrapped(bomb), keys())
    assert wire.decode(wrapped(bz2.compress(b">>>\nt=x\n<<<\n\0"), "bz2"), keys()) == Message.of(t="x")
    with pytest.raises(WireError, match="unknown compression algorithm"):
        wire.compress_wrapper(sample(), "lz4")


def test_size_limits():
    with pytest.raises(WireError, match="msg too big"):
        wire.encode(sample(big="x" * wire.MAXMSG), keys())
    with pytest.raises(WireError, match="msg too big"):
        wire.decode(b"###\n" + b"x" * wire.MAXMSG)
    with pytest.raises(WireError, match="packed list too long"):
        wire.netstring_encode(Message.of(t="x", items=["y" * 600, "z" * 600]))
    deep = Message.of(t="leaf")
    for _ in range(wire.MAX_DEPTH):
        deep = Message.of(t="x", inner=deep)
    with pytest.raises(WireError, match="nesting deeper than 16"):
        wire.netstring_encode(deep)
    with pytest.raises(WireError, match="nesting deeper than 16"):
        wire.classic_encode(deep)


# ---------------------------------------------------------------------------------------------
# message model


def test_message_model():
    msg = Message.of(t="status", st="init", uuid=b"\x01" * 16)
    msg.add("st", "second")
    assert msg["st"] == "init" and msg.get("missing", "d") == "d" and "uuid" in msg and len(msg) == 4
    assert msg.fields[2] == (T_BINARY, "uuid", b"\x01" * 16)
    msg.set("st", "up")
    assert [v for _t, n, v in msg if n == "st"] == ["up", "second"]
    msg.set("new", "v")
    assert msg.fields[-1] == (T_STRING, "new", "v")
    assert "st" not in msg.copy().remove("st") and "st" in msg
    with pytest.raises(KeyError):
        msg["absent"]
    assert msg.type == "status" and "st='up'" in repr(msg)
    for bad in ("", "a=b", ">>>x", "a\nb"):
        with pytest.raises(WireError, match="invalid field name"):
            msg.add(bad, "v")
    with pytest.raises(WireError, match="unsupported field value"):
        msg.add("n", 3)
    with pytest.raises(WireError, match="invalid field type 8"):
        msg.add("n", "v", 8)


def test_non_ascii_and_raw_bytes_survive_round_trips():
    msg = Message.of(t="x", info="caf\xe9 \udcff")
    assert wire.netstring_decode(wire.netstring_encode(msg))[0] == msg
    assert wire.classic_decode(wire.classic_encode(msg)) == msg
