"""Control-socket requests (one JSON object per line), checked before the daemon acts on any of them.

Pure: bytes in, a normalized request or BadRequest out. Whatever a client sends (an empty client
name, a number of 5,000 digits, 4,000 nested lists, a string where a number goes), the daemon gets
either a request it can serve as is or an error to send back: nothing reaches the event loop unchecked.
"""

from __future__ import annotations

import json

MAX_REQUEST = 4096
COMMANDS = ("status", "clientstatus", "reload", "standby", "takeover")
WHICH = ("all", "local", "foreign", "failback")
MAX_NAME = 99  # HOSTLENG - 1: node names; client names are held to the same
TIMEOUT_MS = (1, 60_000, 500)  # clientstatus: min, max, default


class BadRequest(ValueError):
    """The request cannot be served; str() is the error sent back."""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _name(request: dict, field: str) -> str:
    value = request.get(field)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{field} must be a non-empty string, got {_shown(value)}")
    if len(value) > MAX_NAME or not value.isprintable() or any(c.isspace() for c in value):
        raise BadRequest(f"{field} must be one printable word of at most {MAX_NAME} characters")
    return value


def _timeout_ms(request: dict) -> int:
    low, high, default = TIMEOUT_MS
    value = request.get("timeout_ms", default)
    if value is None or value == 0:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"timeout_ms must be an integer {low}..{high}, got {_shown(value)}")
    return value


def parse_request(line: bytes) -> dict:
    """The request on `line` (without its newline), normalized: only the fields of its command."""
    if len(line) > MAX_REQUEST:
        raise BadRequest("request too long")
    try:
        request = json.loads(line)
    except RecursionError:
        raise BadRequest("bad request: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a number of too many digits
        raise BadRequest(f"bad request: {str(exc)[:100]}") from None
    if not isinstance(request, dict):
        raise BadRequest("bad request: not an object")
    cmd = request.get("cmd")
    if cmd not in COMMANDS:
        raise BadRequest(f"unknown command {_shown(cmd)}")
    if cmd == "clientstatus":
        return {"cmd": cmd, "node": _name(request, "node").lower(), "client": _name(request, "client"),
                "timeout_ms": _timeout_ms(request)}  # fmt: skip
    if cmd in ("standby", "takeover"):
        which = request.get("which", "all")
        if which not in WHICH:
            raise BadRequest(f"which must be one of {', '.join(WHICH)}, got {_shown(which)}")
        return {"cmd": cmd, "which": which}
    return {"cmd": cmd}
