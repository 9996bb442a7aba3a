"""hbagent: a stdlib-only Linux-HA Heartbeat 3.0.6 compatible node (membership + resources)."""

__version__ = "0.1.0"
# What cl_status hbstatus -v reports: the protocol level we speak.
HEARTBEAT_VERSION = "3.0.6"
