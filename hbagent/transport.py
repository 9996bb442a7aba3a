"""UDP media of ha.cf (bcast, mcast, ucast) as Heartbeat 3.0.6 opens them (spec section 1).

Each medium gets a read socket bound to the udpport (SO_REUSEADDR, and SO_BINDTODEVICE when
permitted, so several media can share the port) and a write socket.  Every message goes out on
every medium; what comes in is tagged with the medium's link name (its interface), which is what
cl_status shows as a link.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from .wire import MAXMSG

SIOCGIFADDR = 0x8915
SIOCGIFBRDADDR = 0x8919
SIOCGIFINDEX = 0x8933


class TransportError(OSError):
    """A medium could not be opened (missing interface, port in use, ...)."""


def _ifreq(sock: socket.socket, request: int, dev: str) -> bytes:
    return fcntl.ioctl(sock.fileno(), request, struct.pack("16s16x", dev.encode()))


def interface_ipv4(dev: str, request: int = SIOCGIFADDR) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        return socket.inet_ntoa(_ifreq(probe, request, dev)[20:24])


def interface_index(dev: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        return struct.unpack("i", _ifreq(probe, SIOCGIFINDEX, dev)[16:20])[0]


@dataclass
class Channel:
    link: str
    kind: str
    reader: socket.socket
    writer: socket.socket
    destination: tuple[str, int]
    send_errors: int = 0


class Transport:
    def __init__(self, media, log: Callable[[str, str], None] | None = None):
        self.media = list(media)
        self.log = log or (lambda level, text: None)
        self.channels: list[Channel] = []

    # -- opening ----------------------------------------------------------------------------

    def open(self) -> None:
        try:
            for medium in self.media:
                self.channels.append(self._open(medium))
        except OSError as exc:
            self.close()
            if isinstance(exc, TransportError):
                raise
            raise TransportError(exc.errno, str(exc)) from None

    def _bind_to_device(self, sock: socket.socket, dev: str) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        except PermissionError:
            self.log(
                "warning", f"SO_BINDTODEVICE {dev} not permitted (not root?): listening on all interfaces"
            )

    def _open(self, medium) -> Channel:
        where = f"{medium.kind} {medium.dev}"
        try:
            index = interface_index(medium.dev)
        except OSError as exc:
            raise TransportError(exc.errno, f"{where}: no such interface ({exc.strerror})") from None
        reader = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        writer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            self._bind_to_device(reader, medium.dev)
            self._bind_to_device(writer, medium.dev)
            if medium.kind == "bcast":
                writer.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                writer.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 1)
                try:
                    address = interface_ipv4(medium.dev, SIOCGIFBRDADDR)
                except OSError:
                    address = "255.255.255.255"
                if address == "0.0.0.0":
                    address = "255.255.255.255"
                reader.bind(("", medium.port))
            elif medium.kind == "mcast":
                mreqn = struct.pack("4s4si", socket.inet_aton(medium.address), b"\0" * 4, index)
                reader.bind((medium.address, medium.port))
                reader.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
                writer.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
                writer.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, medium.ttl)
                writer.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, medium.loop)
                address = medium.address
            elif medium.kind == "ucast":
                reader.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                reader.bind(("", medium.port))
                address = socket.gethostbyname(medium.address)
            else:
                raise TransportError(errno.EINVAL, f"{where}: unsupported medium")
            reader.setblocking(False)
            writer.setblocking(False)
        except OSError as exc:
            reader.close()
            writer.close()
            if isinstance(exc, TransportError):
                raise
            raise TransportError(exc.errno, f"{where} port {medium.port}: {exc.strerror or exc}") from None
        self.log("info", f"{medium.kind}: heartbeat on {medium.dev} to {address}:{medium.port}")
        return Channel(medium.name, medium.kind, reader, writer, (address, medium.port))

    # -- traffic ----------------------------------------------------------------------------

    def readers(self) -> list[tuple[socket.socket, str]]:
        return [(ch.reader, ch.link) for ch in self.channels]

    def send(self, data: bytes) -> None:
        for channel in self.channels:
            try:
                channel.writer.sendto(data, channel.destination)
                channel.send_errors = 0
            except OSError as exc:
                # keep going on the other media; say it once per outage, not at every keepalive
                channel.send_errors += 1
                if channel.send_errors == 1:
                    self.log(
                        "error", f"{channel.kind} {channel.link}: cannot send to {channel.destination}: {exc}"
                    )

    @staticmethod
    def receive(sock: socket.socket) -> list[bytes]:
        """Every datagram waiting on `sock`."""
        datagrams = []
        while True:
            try:
                data = sock.recv(MAXMSG)
            except (BlockingIOError, InterruptedError):
                return datagrams
            except OSError:
                return datagrams  # e.g. ICMP errors reported on the socket: nothing to read
            datagrams.append(data)

    def close(self) -> None:
        for channel in self.channels:
            channel.reader.close()
            channel.writer.close()
        self.channels = []
