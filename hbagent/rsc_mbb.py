"""Make-before-break moves: the part of rscmgr.ResourceManager that overlaps a planned move (a mixin).

Make-before-break (opt-in per group key, `mbb_groups` from /etc/ha.d/hbagent.conf, both nodes hbagent
with the group listed on both): ONLY for groups whose non-IP resources may run on both nodes at once (a
stateless web server, never a filesystem or anything holding data), and whose services do not need the
address bound to start (Apache's default `Listen 80` is fine). On a planned move (auto-failback,
standby, takeover, and a graceful stop while such a group is held) the taker starts the group's
services, then adds the addresses itself (gratuitous ARP at once) while the giver still holds them, and
only then does the giver remove its copy of the addresses:
    giver  ask_resources rsc_hold=R info=me    hbagent_mbb=<keys it offers>; Unannounce(offered)
    taker  ask_resources rsc_hold=R info=other hbagent_mbb=<keys it accepts>
    taker  Acquire(accepted, non_ip); Acquire(accepted, ip)   (the address is now on both nodes)
    taker  hbagent_mbb info=ready groups=<keys pre-started>          (new type, only between hbagents)
    giver  resource … isstable=0 info=standby; Release(other groups, all); Release(ready, ip)
    giver  ask_resources rsc_hold=R info=done; then Release(ready, non_ip) in the background
    taker  Acquire(ready first, then the rest, all) — what runs already is kept — done, …
Why this order: clients follow the taker's gratuitous ARP at once, and until it arrives they still
reach the giver, which serves; no SYN is ever sent to a node without the address. The price is a
double ownership of the address for one message round (the `ready` message plus one `ip addr del`,
milliseconds), which is the usual make-before-break trade-off and harmless for a stateless service.
A TCP connection whose first packets went to the giver and whose later packets leave the client after
the ARP update is reset by the taker: with short HTTP requests that window is well under a millisecond.
A real 3.0.6 peer never sends the extra field and ignores it, so with one it is the plain §8.6
exchange. Not applied after a death (nothing to overlap with).
"""

from __future__ import annotations

from .rsc_sets import ALL, Standby, _taker_set, encode_resources

MBB_FIELD = "hbagent_mbb"
MBB_TYPE = "hbagent_mbb"
PART_ALL, PART_IP, PART_NON_IP = "all", "ip", "non_ip"  # = resources.PART_*


class MakeBeforeBreak:
    """Methods of ResourceManager (its state: mbb_groups, prestarted, _mbb_offer, _mbb_wait, …)."""

    def _mbb_accept(self, fields: dict[str, str]) -> tuple[str, ...]:
        offered = (fields.get(MBB_FIELD) or "").split()
        if not offered:
            return ()
        rtype = encode_resources(fields.get("rsc_hold", "all"))
        mine = set(self._keys(_taker_set(ALL if rtype is None else rtype)))
        return tuple(k for k in offered if k in self.mbb_groups and k in mine and k not in self.held)

    def _prestart(self, keys: tuple[str, ...]) -> None:
        """Taker: services first, then the addresses (announced at once), then tell the giver."""
        failed_services: tuple[str, ...] = ()
        self._log(
            "info", f"make-before-break: starting {' '.join(keys)} here while {self.peer} still serves it"
        )

        def ready(failed: tuple[str, ...]) -> None:
            bad = set(failed_services) | set(failed)
            ok = [k for k in keys if k not in bad]
            for key in sorted(bad):
                self._log("warning", f"make-before-break: pre-start of {key} failed; it moves the plain way")
            fields = [("t", MBB_TYPE), ("info", "ready")]
            if ok:
                fields.append(("groups", " ".join(ok)))
            self._send(*fields)

        def services_started(failed: tuple[str, ...]) -> None:
            nonlocal failed_services
            failed_services = failed
            ok = [k for k in keys if k not in failed]
            self._queue_next("acquire", ok, "make-before-break addresses", ready, part=PART_IP, prestart=True)

        self._queue("acquire", keys, "make-before-break pre-start", services_started, part=PART_NON_IP,
                    prestart=True)  # fmt: skip

    def _on_mbb(self, fields: dict[str, str]) -> None:
        if fields.get("info") != "ready" or self.going_standby != Standby.ME or not self._mbb_wait:
            self._log("debug", f"{MBB_TYPE} {fields.get('info')} from {self.peer} ignored")
            return
        ready = tuple(k for k in (fields.get("groups") or "").split() if k in self._mbb_wait)
        self._go_standby_me(self.standby_rsctype, ready)

    def _mbb_reset(self) -> None:
        """A standby was cancelled: forget the offer; stop what we pre-started for it."""
        self._mbb_wait = ()
        leftovers = [k for k in self._keys(ALL) if k in self.prestarted and k not in self.held]
        if leftovers:
            self._queue("release", leftovers, "make-before-break cancelled", part=PART_ALL)
