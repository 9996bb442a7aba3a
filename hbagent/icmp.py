"""ICMP echo for ping nodes: a raw socket (CAP_NET_RAW, i.e. root) and the packet format. I/O only;
pingnodes.py decides when to send and what a reply means.

Requests carry our identifier (random per daemon) and a payload `hbagent <node>` so that replies to
other programs' pings on the same host are never taken for ours.
"""

from __future__ import annotations

import random
import socket
import struct

ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8
MAX_PACKET = 2048


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, checksum(header + payload), ident, seq) + payload


def parse_echo_reply(packet: bytes, ident: int, payload: bytes) -> int | None:
    """The sequence number of one of our echo replies (an IPv4 packet as a raw socket reads it), else None."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    start = (packet[0] & 0x0F) * 4
    icmp = packet[start:]
    if len(icmp) < 8 + len(payload) or checksum(icmp) != 0:
        return None
    kind, _code, _sum, their_ident, seq = struct.unpack("!BBHHH", icmp[:8])
    if kind != ICMP_ECHO_REPLY or their_ident != ident or icmp[8 : 8 + len(payload)] != payload:
        return None
    return seq


class IcmpSocket:
    def __init__(self, node: str, ident: int | None = None):
        self.ident = random.randrange(1, 0x10000) if ident is None else ident
        self.payload = f"hbagent {node}".encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)  # PermissionError
        self.sock.setblocking(False)
        self.send_errors: dict[str, int] = {}

    def send(self, address: str, seq: int) -> str | None:
        """Send one echo request; the error text the first time an address fails in a row, else None."""
        try:
            self.sock.sendto(echo_request(self.ident, seq, self.payload), (address, 0))
        except OSError as exc:
            self.send_errors[address] = self.send_errors.get(address, 0) + 1
            return f"ping {address}: {exc.strerror or exc}" if self.send_errors[address] == 1 else None
        self.send_errors.pop(address, None)
        return None

    def receive(self) -> list[tuple[str, int]]:
        """(source address, seq) of every echo reply of ours waiting on the socket."""
        found = []
        while True:
            try:
                packet, (source, _port) = self.sock.recvfrom(MAX_PACKET)
            except (BlockingIOError, InterruptedError):
                return found
            except OSError:
                return found
            seq = parse_echo_reply(packet, self.ident, self.payload)
            if seq is not None:
                found.append((source, seq))

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
