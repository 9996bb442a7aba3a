"""auto_failback legacy (no nice_failback): the part of rscmgr.ResourceManager for ip-request /
ip-request-resp (spec §8.7; read in source only, never observed on the wire), as a mixin.

Basic form: at comm-up ask the peer for our groups or take them when alone, give a group up on request,
take the peer's groups on its death or shutdone; no standby/takeover (as 3.0.6: "Standby mode only
implemented when nice_failback on").
"""

from __future__ import annotations

from collections.abc import Callable

from .rsc_sets import LOCAL


class LegacyMode:
    """Methods of ResourceManager (its state: nice_failback, held, peer_alive, …)."""

    def _legacy_request_own(self) -> None:
        own = [k for k in self._keys(LOCAL) if k not in self.held]
        if not self.peer_alive:
            self._queue("acquire", own, "req_our_resources", self._failed_start)
            return
        for key in own:
            self._send(("t", "ip-request"), ("ipaddr", key))

    def _on_ip_request(self, fields: dict[str, str]) -> None:
        key = fields.get("ipaddr")
        if self.nice_failback or key is None:
            return
        if key not in self._node_of:
            self._log("warning", f"ip-request for unknown resource group [{key}] ignored")
            return

        def reply(weown: str) -> Callable[[tuple[str, ...]], None]:
            def send(failed: tuple[str, ...]) -> None:
                if failed:
                    return  # still ours; the STOP failure is logged
                self._send(
                    ("t", "ip-request-resp"),
                    ("dest", self.peer),
                    ("ipaddr", key),
                    ("weown", weown),
                    ("ok", "OK"),
                )

            return send

        if key in self.held:
            self._queue("release", [key], "ip-request", reply("yes"))
        else:
            self._queue("release", [], "ip-request", reply("no"))

    def _on_ip_request_resp(self, fields: dict[str, str]) -> None:
        key = fields.get("ipaddr")
        if self.nice_failback or key not in self._node_of or fields.get("ok") != "OK":
            return
        self._queue("acquire", [key], "ip-request-resp", self._failed_start)
