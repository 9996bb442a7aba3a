"""sdnotify: datagrams on a real AF_UNIX socket (path and abstract), watchdog interval, no-op mode."""

import os
import socket
import uuid

import pytest

from hbagent import sdnotify


@pytest.fixture
def path_socket(tmp_path):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, {"NOTIFY_SOCKET": path}
    sock.close()


def test_ready_with_status(path_socket):
    sock, env = path_socket
    assert sdnotify.ready("2 nodes, holding local", env=env)
    assert sock.recv(4096) == b"READY=1\nSTATUS=2 nodes, holding local"


def test_stopping_watchdog_status(path_socket):
    sock, env = path_socket
    assert sdnotify.stopping(env=env)
    assert sock.recv(4096) == b"STOPPING=1"
    assert sdnotify.watchdog(env=env)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sdnotify.status("line one\nline two", env=env)
    assert sock.recv(4096) == b"STATUS=line one line two"


def test_abstract_socket():
    name = f"hakit-sdnotify-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert sdnotify.ready(env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


@pytest.mark.parametrize("value", [None, "", "vsock:2:1234", "relative/path"])
def test_no_op_when_not_under_systemd(value):
    env = {} if value is None else {"NOTIFY_SOCKET": value}
    assert sdnotify.ready(env=env) is False
    assert sdnotify.watchdog(env=env) is False


def test_gone_socket_is_not_an_error(tmp_path):
    assert sdnotify.ready(env={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")}) is False


def test_bad_assignment_is_refused(path_socket):
    _, env = path_socket
    with pytest.raises(ValueError):
        sdnotify.notify("READY", env=env)


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "20000000"}, 20.0),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "<this process>"}, 0.5),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env, interval):
    # the pid is taken when the test runs: under pytest-xdist (ansible-test units) the worker that runs a
    # test is not always the one whose collection computed the parameters
    env = {key: str(os.getpid()) if value == "<this process>" else value for key, value in env.items()}
    assert sdnotify.watchdog_interval(env) == interval
