"""Heartbeat 3.0.6 message codec: message model, netstring and classic encodings, authentication.

Spec: docs/heartbeat-wire-protocol.md sections 2-4.  What a 3.0.6 node sends, and what
this module sends: netstring fields with "(N)" type tags, the classic `auth` field last, then a
trailing auth netstring over everything from "###\\n" through "%%%\\n".
"""

from __future__ import annotations

import base64
import binascii
import bz2
import itertools
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

try:  # CPython's built-in digests: hashlib/hmac would map OpenSSL (~4 MB of RSS) for two small hashes
    from _md5 import md5 as _md5
    from _sha1 import sha1 as _sha1
except ImportError:  # an interpreter built without them
    from hashlib import md5 as _md5
    from hashlib import sha1 as _sha1

T_STRING, T_BINARY, T_STRUCT, T_LIST, T_COMPRESSED, T_UNCOMPRESSED = range(6)

MAXMSG = 256 * 1024  # largest datagram / encoded message
MAXUNCOMPRESSED = 2 * 1024 * 1024  # largest decompressed payload
MAX_AUTH_BYTES = 64  # trailing auth allowance
MAX_DEPTH = 16  # struct nesting
MAX_PACKED_LIST = 1024

NS_HEAD, NS_TAIL = b"###\n", b"%%%\n"
CLASSIC_HEAD, CLASSIC_TAIL = b">>>\n", b"<<<\n"
CLASSIC_NL = b"\x13"  # a newline inside a classic string value


class WireError(ValueError):
    """A message that cannot be encoded, parsed or authenticated (the reason says which)."""


class AuthError(WireError):
    """A datagram that does not carry a valid token for any configured key."""


# --------------------------------------------------------------------------------------------
# message model


def _to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _to_str(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "=" in name or name.startswith(">>>") or "\n" in name:
        raise WireError(f"invalid field name {name!r}")


def _type_of(value: Any) -> int:
    if isinstance(value, str):
        return T_STRING
    if isinstance(value, (bytes, bytearray)):
        return T_BINARY
    if isinstance(value, Message):
        return T_STRUCT
    if isinstance(value, list):
        return T_LIST
    raise WireError(f"unsupported field value {value!r}")


class Message:
    """Ordered (type, name, value) fields; lookups return the first field of a name."""

    __slots__ = ("fields",)

    def __init__(self, fields: Iterable[tuple[int, str, Any]] = ()):
        self.fields: list[tuple[int, str, Any]] = []
        for ftype, name, value in fields:
            self.add(name, value, ftype)

    @classmethod
    def of(cls, **values: Any) -> Message:
        """Message.of(t="status", st="active"): fields in keyword order, types from the values."""
        msg = cls()
        for name, value in values.items():
            msg.add(name, value)
        return msg

    def add(self, name: str, value: Any, ftype: int | None = None) -> Message:
        _check_name(name)
        if ftype is None:
            ftype = _type_of(value)
        if ftype not in range(6):
            raise WireError(f"invalid field type {ftype} for {name}")
        if isinstance(value, bytearray):
            value = bytes(value)
        self.fields.append((ftype, name, value))
        return self

    def get(self, name: str, default: Any = None) -> Any:
        for _ftype, fname, value in self.fields:
            if fname == name:
                return value
        return default

    def __getitem__(self, name: str) -> Any:
        for _ftype, fname, value in self.fields:
            if fname == name:
                return value
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(fname == name for _t, fname, _v in self.fields)

    def __iter__(self) -> Iterator[tuple[int, str, Any]]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.fields == other.fields

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={v!r}" if t == T_STRING else f"({t}){n}={v!r}" for t, n, v in self.fields)
        return f"Message({shown})"

    def set(self, name: str, value: Any) -> Message:
        """Replace the first field of that name (keeping its place), else append."""
        for i, (_ftype, fname, _value) in enumerate(self.fields):
            if fname == name:
                self.fields[i] = (_type_of(value), name, value)
                return self
        return self.add(name, value)

    def remove(self, name: str) -> Message:
        self.fields = [f for f in self.fields if f[1] != name]
        return self

    def copy(self) -> Message:
        return Message(self.fields)

    @property
    def type(self) -> str | None:
        return self.get("t")

    def has_structs(self) -> bool:
        return any(t in (T_STRUCT, T_COMPRESSED, T_UNCOMPRESSED) for t, _n, _v in self.fields)


# --------------------------------------------------------------------------------------------
# netstring format


def _netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


def _pack_list(items: list[str]) -> bytes:
    packed = b"".join(_netstring(_to_bytes(item)) for item in items)
    if len(packed) >= MAX_PACKED_LIST:
        raise WireError(f"packed list too long ({len(packed)} bytes, limit {MAX_PACKED_LIST})")
    return packed


def _unpack_list(raw: bytes) -> list[str]:
    items, pos = [], 0
    while pos < len(raw):
        payload, pos = _read_netstring(raw, pos, "list item")
        items.append(_to_str(payload))
    return items


def _ns_value(ftype: int, value: Any, depth: int) -> bytes:
    if ftype == T_STRING:
        return _to_bytes(value)
    if ftype in (T_BINARY, T_COMPRESSED):
        return bytes(value)
    if ftype in (T_STRUCT, T_UNCOMPRESSED):
        return _ns_body(value, depth + 1)
    if ftype == T_LIST:
        return _pack_list(value)
    raise WireError(f"invalid field type {ftype}")


def _ns_body(msg: Message, depth: int = 0) -> bytes:
    if depth >= MAX_DEPTH:
        raise WireError(f"message nesting deeper than {MAX_DEPTH}")
    parts = [NS_HEAD]
    for ftype, name, value in msg.fields:
        parts.append(_netstring(b"(%d)%s=%s" % (ftype, _to_bytes(name), _ns_value(ftype, value, depth))))
    parts.append(NS_TAIL)
    return b"".join(parts)


def netstring_encode(msg: Message) -> bytes:
    """The signed region: "###\\n" fields "%%%\\n", without the trailing auth."""
    return _ns_body(msg)


_LEN_RE = re.compile(rb"(\d{1,9}):")


def _read_netstring(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    m = _LEN_RE.match(data, pos)
    if not m:
        raise WireError(f"bad {what} length at byte {pos}")
    start = m.end()
    end = start + int(m.group(1))
    if end >= len(data):
        raise WireError(f"truncated {what} at byte {pos}")
    if data[end : end + 1] != b",":
        raise WireError(f"{what} at byte {pos} not terminated by ','")
    return data[start:end], end + 1


_FIELD_RE = re.compile(rb"\((\d)\)([^=]+)=", re.DOTALL)


def _parse_ns_body(data: bytes, pos: int, depth: int) -> tuple[Message, int]:
    if depth >= MAX_DEPTH:
        raise WireError(f"message nesting deeper than {MAX_DEPTH}")
    if not data.startswith(NS_HEAD, pos):
        raise WireError("netstring message does not start with ###")
    pos += len(NS_HEAD)
    msg = Message()
    while not data.startswith(NS_TAIL, pos):
        if pos >= len(data):
            raise WireError("netstring message has no %%% end marker")
        body, pos = _read_netstring(data, pos, "field")
        m = _FIELD_RE.match(body)
        if not m:
            raise WireError(f"bad field {body[:40]!r}: expected (type)name=value")
        ftype, name, raw = int(m.group(1)), _to_str(m.group(2)), body[m.end() :]
        if ftype in (T_STRUCT, T_UNCOMPRESSED):
            value, used = _parse_ns_body(raw, 0, depth + 1)
            if used != len(raw):
                raise WireError(f"trailing bytes after nested message {name}")
            ftype = T_STRUCT
        elif ftype == T_STRING:
            value = _to_str(raw)
        elif ftype == T_LIST:
            value = _unpack_list(raw)
        elif ftype in (T_BINARY, T_COMPRESSED):
            value = raw
        else:
            raise WireError(f"unknown field type {ftype} for {name}")
        msg.add(name, value, ftype)
    return msg, pos + len(NS_TAIL)


def netstring_decode(data: bytes) -> tuple[Message, str | None, int]:
    """(message, trailing auth string or None, length of the signed region)."""
    msg, signed_len = _parse_ns_body(data, 0, 0)
    rest = data[signed_len:].rstrip(b"\0")
    if not rest:
        return msg, None, signed_len
    authstr, end = _read_netstring(rest, 0, "auth string")
    if end != len(rest):
        raise WireError("trailing bytes after the auth string")
    if len(authstr) > MAX_AUTH_BYTES:
        raise WireError("auth string too long")
    return msg, _to_str(authstr), signed_len


# --------------------------------------------------------------------------------------------
# classic format


def _depth_symbol(depth: int) -> bytes:
    """Byte standing for a newline of a nested struct rendered at this depth."""
    return bytes([0x14 + depth if depth < 12 else 0x0F + depth - 12])


def _classic_value(ftype: int, value: Any, depth: int, name: str) -> bytes:
    if ftype == T_STRING:
        raw = _to_bytes(value).replace(b"\n", CLASSIC_NL)
    elif ftype in (T_BINARY, T_COMPRESSED):
        raw = base64.b64encode(bytes(value))
    elif ftype in (T_STRUCT, T_UNCOMPRESSED):
        raw = _classic_body(value, depth + 1, head=True).replace(b"\n", _depth_symbol(depth))
    elif ftype == T_LIST:
        raw = _pack_list(value)
    else:
        raise WireError(f"invalid field type {ftype}")
    if not raw:
        raise WireError(f"field {name} has an empty value (Heartbeat rejects those)")
    return raw


def _classic_body(msg: Message, depth: int, head: bool) -> bytes:
    if depth >= MAX_DEPTH:
        raise WireError(f"message nesting deeper than {MAX_DEPTH}")
    lines = []
    for ftype, name, value in msg.fields:
        prefix = b"" if ftype == T_STRING else b"(%d)" % ftype
        lines.append(b"%s%s=%s\n" % (prefix, _to_bytes(name), _classic_value(ftype, value, depth, name)))
    body = b"".join(lines)
    return CLASSIC_HEAD + body + CLASSIC_TAIL if head else body


def classic_encode(msg: Message) -> bytes:
    return _classic_body(msg, 0, head=True)


def _parse_classic(data: bytes, depth: int) -> Message:
    if depth >= MAX_DEPTH:
        raise WireError(f"message nesting deeper than {MAX_DEPTH}")
    if not data.startswith(CLASSIC_HEAD):
        raise WireError("classic message does not start with >>>")
    msg = Message()
    for line in data[len(CLASSIC_HEAD) :].split(b"\n"):
        if line == b"<<<":
            return msg
        if not line:
            continue
        ftype = T_STRING
        m = re.match(rb"\((\d)\)", line)
        if m:
            ftype, line = int(m.group(1)), line[m.end() :]
        name, sep, raw = line.partition(b"=")
        if not sep or not name:
            raise WireError(f"bad classic line {line[:40]!r}")
        if not raw:
            raise WireError(f"field {_to_str(name)} has an empty value")
        msg.add(
            _to_str(name), _classic_field(ftype, raw, depth), T_STRUCT if ftype == T_UNCOMPRESSED else ftype
        )
    raise WireError("classic message has no <<< end marker")


def _classic_field(ftype: int, raw: bytes, depth: int) -> Any:
    if ftype == T_STRING:
        return _to_str(raw.replace(CLASSIC_NL, b"\n"))
    if ftype in (T_BINARY, T_COMPRESSED):
        try:
            return base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise WireError(f"bad base64 value: {exc}") from None
    if ftype in (T_STRUCT, T_UNCOMPRESSED):
        return _parse_classic(raw.replace(_depth_symbol(depth), b"\n"), depth + 1)
    if ftype == T_LIST:
        return _unpack_list(raw)
    raise WireError(f"unknown field type {ftype}")


def classic_decode(data: bytes) -> Message:
    return _parse_classic(data, 0)


# --------------------------------------------------------------------------------------------
# authentication


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc32_posix(data: bytes) -> int:
    """CRC-32, MSB first, init 0, final xor: cksum's CRC without the length trailer."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return ~crc & 0xFFFFFFFF


_HMAC_BLOCK = 64  # md5 and sha1
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _hmac_hex(new, key: bytes, data: bytes) -> str:
    """RFC 2104 HMAC (what hmac.new(key, data, new).hexdigest() returns)."""
    if len(key) > _HMAC_BLOCK:
        key = new(key).digest()
    key = key.ljust(_HMAC_BLOCK, b"\0")
    inner = new(key.translate(_IPAD) + data).digest()
    return new(key.translate(_OPAD) + inner).hexdigest()


def digest(method: str, key: bytes | None, data: bytes) -> str:
    """Auth token as Heartbeat prints it: lower-case hex; crc unpadded (%lx)."""
    if method == "md5":
        return _hmac_hex(_md5, key or b"", data)
    if method == "sha1":
        return _hmac_hex(_sha1, key or b"", data)
    if method == "crc":
        return format(crc32_posix(data), "x")
    raise WireError(f"unknown authentication method {method}")


def classic_auth_input(msg: Message) -> bytes:
    """Bytes the inner `auth` field digests: classic lines of every field but `auth`, no head/tail."""
    return _classic_body(Message(f for f in msg.fields if f[1] != "auth"), 0, head=False)


def auth_field_value(msg: Message, authkeys) -> str:
    method, key = authkeys.keys[authkeys.active]
    return f"{authkeys.active} {digest(method, key, classic_auth_input(msg))}"


# "<index> <token>": index 0..15 (MAXAUTH), token lower-case hex (md5 32, sha1 40, crc 1-8 digits).
# Bounded on purpose: the field comes from anyone on the LAN, before any key is checked.
_AUTH_RE = re.compile(rb"\s*([0-9]{1,2}) ([0-9a-fA-F]{1,64})\s*")
_TOKEN_LENGTHS = {"md5": range(32, 33), "sha1": range(40, 41), "crc": range(1, 9)}

try:  # constant-time comparison without importing hmac (and OpenSSL with it)
    from _operator import _compare_digest as _same
except ImportError:  # pragma: no cover - other interpreters
    from hmac import compare_digest as _same


def _split_auth(value) -> tuple[int, str]:
    """(index, token) of an auth string; WireError for anything else (a binary field, a number of
    4,000 digits, ...): never an exception of another kind."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    if not isinstance(value, bytes) or len(value) > MAX_AUTH_BYTES:
        raise AuthError("Bad/invalid auth token")
    m = _AUTH_RE.fullmatch(value)
    if not m:
        raise AuthError("Bad/invalid auth token")
    return int(m.group(1)), m.group(2).decode("ascii")


def _verify(token: str, method: str, key: bytes | None, signed: bytes, reason: str) -> None:
    """Compare in constant time; the reason never carries a token (the log must not hand out a valid one,
    and 3.0.6's `authtoken=…, authstr=…` did exactly that)."""
    if len(token) not in _TOKEN_LENGTHS.get(method, ()):
        raise AuthError(reason)  # cannot be right: no need to hash anything
    if not _same(token.encode(), digest(method, key, signed).encode()):
        raise AuthError(reason)


def check_auth_field(msg: Message, authkeys) -> None:
    """Verify the classic `auth` field with the method and key of the index it names."""
    index, token = _split_auth(msg.get("auth"))
    if index not in authkeys.keys:
        raise AuthError(f"Invalid authentication [{index}] in message!")
    method, key = authkeys.keys[index]
    _verify(token, method, key, classic_auth_input(msg), "classic message failed authentication")


def trailing_auth(signed: bytes, authkeys) -> bytes:
    method, key = authkeys.keys[authkeys.active]
    return _netstring(b"%d %s" % (authkeys.active, digest(method, key, signed).encode()))


def check_trailing_auth(signed: bytes, authstr, authkeys) -> None:
    """Method of the received index, key of our own outgoing index: Heartbeat's quirk (spec 4.3)."""
    if authstr is None:
        raise AuthError("peel_netstring() error in getting auth string")
    index, token = _split_auth(authstr)
    if index not in authkeys.keys:
        raise AuthError(f"Invalid authentication [{index}] in message!")
    method = authkeys.keys[index][0]
    key = authkeys.keys[authkeys.active][1]
    _verify(token, method, key, signed, "authtoken does not match")


def _peel_trailing_auth(data: bytes) -> tuple[int, bytes]:
    """(length of the signed region, auth string) found from the end of a netstring datagram, without
    parsing the message: the signed region ends with the last "%%%\n", which the auth string (at most
    MAX_AUTH_BYTES) follows. Only what this finds and authenticates is parsed afterwards."""
    rest = data.rstrip(b"\0")
    window = MAX_AUTH_BYTES + 16  # "NN:" + auth string + ","
    tail = rest.rfind(NS_TAIL, max(0, len(rest) - window - len(NS_TAIL)))
    if tail < 0:
        raise WireError("peel_netstring() error in getting auth string")
    signed_len = tail + len(NS_TAIL)
    if signed_len == len(rest):
        raise AuthError("peel_netstring() error in getting auth string")
    authstr, end = _read_netstring(rest, signed_len, "auth string")
    if end != len(rest):
        raise WireError("trailing bytes after the auth string")
    if len(authstr) > MAX_AUTH_BYTES:
        raise WireError("auth string too long")
    return signed_len, authstr


# A classic message's own `auth=` line and its end marker, found with C-speed searches (no line loop).
# Both start with a literal newline, which the regex engine looks for with a fast scan: the text
# searched gets one in front (a line at the very start), never a `(?:^|\n)` tried at every byte.
_CLASSIC_AUTH_LINE = re.compile(rb"\n(?:\(\d\))?auth=([^\n]*)")
_CLASSIC_END = re.compile(rb"\n<<<(?:\n|\Z)")


def _check_classic_auth_raw(data: bytes, authkeys) -> None:
    """Authenticate a classic datagram on its raw bytes before parsing it: the digest input is the
    message's lines without the head, the tail and the `auth=` line, which is exactly the classic
    rendering §4.2 hashes for any message a sender can produce. The parsed message is checked again
    the canonical way afterwards (check_auth_field)."""
    text = b"\n" + data[len(CLASSIC_HEAD) :]  # "\n" + every line
    end = _CLASSIC_END.search(text)
    if end is None:
        raise WireError("classic message has no <<< end marker")
    region = text[: end.start() + 1]  # "\n" + every line before "<<<", each with its "\n"
    found = list(itertools.islice(_CLASSIC_AUTH_LINE.finditer(region), 2))
    if not found:
        raise AuthError("Bad/invalid auth token")
    if len(found) > 1 or not found[0].group(0).startswith(b"\nauth="):
        raise AuthError("Bad/invalid auth token")  # one auth field, of type string
    index, token = _split_auth(found[0].group(1))
    if index not in authkeys.keys:
        raise AuthError(f"Invalid authentication [{index}] in message!")
    signed = region[1 : found[0].start() + 1] + region[found[0].end() + 1 :]
    method, key = authkeys.keys[index]
    _verify(token, method, key, signed, "classic message failed authentication")


# --------------------------------------------------------------------------------------------
# wire: what goes into / comes out of a datagram


def sign(msg: Message, authkeys, classic_auth: bool = True) -> Message:
    """A copy of `msg` as it goes on the wire: with msgfmt classic the `auth` field comes last."""
    msg = msg.copy().remove("auth")
    if classic_auth and not msg.has_structs():
        msg.add("auth", auth_field_value(msg, authkeys))
    return msg


def encode(msg: Message, authkeys, classic_auth: bool = True) -> bytes:
    """Datagram bytes as 3.0.6 sends them: netstring (+ inner `auth` field with msgfmt classic)
    and the trailing auth.  `msg` is not modified."""
    signed = netstring_encode(sign(msg, authkeys, classic_auth))
    data = signed + trailing_auth(signed, authkeys)
    if len(data) > MAXMSG:
        raise WireError(f"msg too big ({len(data)} bytes, limit {MAXMSG})")
    return data


def decode(data: bytes, authkeys=None) -> Message:
    """Parse (and with authkeys, authenticate) one datagram, unwrapping _compressed_payload.

    With authkeys the order is: size and framing, then the key (on the raw bytes, microseconds), and
    only then the full parse: what nobody with the key sent is never parsed. Every failure is a
    WireError, whatever the bytes."""
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > MAXMSG:
        raise WireError(f"msg too big ({len(data)} bytes)")
    if data.startswith(NS_HEAD):
        if authkeys is not None:
            signed_len, authstr = _peel_trailing_auth(data)
            check_trailing_auth(data[:signed_len], authstr, authkeys)
        msg, _authstr, parsed_len = netstring_decode(data)
        if authkeys is not None and parsed_len != signed_len:
            raise WireError("bytes between the message end and the auth string")
    elif data.startswith(CLASSIC_HEAD):
        if authkeys is not None:
            _check_classic_auth_raw(data, authkeys)
        msg = classic_decode(data)
        if authkeys is not None:
            check_auth_field(msg, authkeys)
    else:
        raise WireError("unknown message format (neither ### nor >>>)")
    return _unwrap_compressed(msg)


def _decompress(algorithm: str, payload: bytes) -> bytes:
    if algorithm == "zlib":
        engine = zlib.decompressobj()
    elif algorithm == "bz2":
        engine = bz2.BZ2Decompressor()
    else:
        raise WireError(f"unknown compression algorithm {algorithm}")
    try:
        out = engine.decompress(payload, MAXUNCOMPRESSED + 1)
    except (zlib.error, OSError, ValueError) as exc:
        raise WireError(f"cannot decompress payload: {exc}") from None
    if len(out) > MAXUNCOMPRESSED:
        raise WireError(f"decompressed message exceeds {MAXUNCOMPRESSED} bytes")
    return out


def _unwrap_compressed(msg: Message) -> Message:
    payload = msg.get("_compressed_payload")
    if not isinstance(payload, bytes):
        return msg
    inner = _decompress(msg.get("_compression_algorithm", "zlib"), payload).rstrip(b"\0")
    if inner.startswith(NS_HEAD):
        result, used = _parse_ns_body(inner, 0, 0)
        if inner[used:]:
            raise WireError("trailing bytes after compressed netstring payload")
        return result
    return classic_decode(inner)


def compress_wrapper(msg: Message, algorithm: str = "zlib", classic: bool = True) -> Message:
    """Traditional-compression wrapper message (what a sender with traditional_compression emits)."""
    inner = classic_encode(msg) + b"\0" if classic and not msg.has_structs() else netstring_encode(msg)
    if algorithm == "zlib":
        packed = zlib.compress(inner)
    elif algorithm == "bz2":
        packed = bz2.compress(inner)
    else:
        raise WireError(f"unknown compression algorithm {algorithm}")
    return Message(
        [(T_BINARY, "_compressed_payload", packed), (T_STRING, "_compression_algorithm", algorithm)]
    )
