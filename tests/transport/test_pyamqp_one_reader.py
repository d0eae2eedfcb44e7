"""One thread at a time looks at a py-amqp connection's socket.

Under eventlet's monkey patching a ``select`` on a socket is a read like
any other, and eventlet kills the second green thread that waits on one
socket ("Second simultaneous read on fileno").  So the pre-publish poll
and the heartbeat ask :class:`~kombu_lite.transport.pyamqp.reader.FrameReader`
whether bytes wait, and it looks at the socket only holding the read lock.
The green threads themselves are tested in ``tests/green``; these tests
use OS threads and a stand-in for the socket check.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from kombu_lite.transport.pyamqp import reader as reader_module
from kombu_lite.transport.pyamqp.reader import FrameReader, socket_has_data


@pytest.fixture
def reader() -> FrameReader:
    return FrameReader(SimpleNamespace(transport=None), "peer:5672", 5.0)


@pytest.fixture
def looked(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each look at the socket (the stand-in finds nothing waiting)."""
    calls: list[object] = []

    def socket_has_data(conn: Any) -> bool:
        calls.append(conn)
        return False

    monkeypatch.setattr(reader_module, "socket_has_data", socket_has_data)
    return calls


@pytest.fixture
def held(reader: FrameReader) -> Iterator[Callable[[bool], None]]:
    """Hold the read lock in another thread: on the socket, or dispatching."""
    release = threading.Event()
    taken = threading.Event()

    def hold(on_socket: bool) -> None:
        def run() -> None:
            with reader.read_lock:
                reader._on_socket = on_socket
                taken.set()
                release.wait(5)
                reader._on_socket = False

        threading.Thread(target=run, daemon=True).start()
        assert taken.wait(5)

    yield hold
    release.set()


def test_the_heartbeat_does_not_look_while_a_thread_waits_on_the_socket(
    reader: FrameReader, looked: list[object], held: Callable[[bool], None]
) -> None:
    held(True)

    # That thread counts what arrives; nothing is known to wait.
    assert reader.data_waiting() is False
    assert looked == []


def test_a_thread_dispatching_frames_it_read_counts_as_the_broker_heard(
    reader: FrameReader, looked: list[object], held: Callable[[bool], None]
) -> None:
    held(False)

    assert reader.data_waiting() is True
    assert looked == []


def test_the_pre_publish_poll_skips_while_another_thread_reads(
    reader: FrameReader, looked: list[object], held: Callable[[bool], None]
) -> None:
    held(True)

    assert reader.read_waiting() is False
    assert looked == []


def test_with_no_other_reader_the_socket_is_looked_at_under_the_lock(
    reader: FrameReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    owned: list[bool] = []

    def socket_has_data(conn: Any) -> bool:
        owned.append(reader.read_lock._is_owned())  # type: ignore[attr-defined]
        return False

    monkeypatch.setattr(reader_module, "socket_has_data", socket_has_data)

    assert reader.data_waiting() is False
    assert reader.read_waiting() is False
    assert owned == [True, True]
    assert reader.read_lock.acquire(blocking=False)  # given back
    reader.read_lock.release()


def test_a_frame_not_whole_yet_is_left_for_the_next_read(
    reader: FrameReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "socket_has_data", lambda conn: True)

    def read_once(timeout: float | None) -> bool:
        assert timeout == 0  # the poll never blocks
        raise TimeoutError

    monkeypatch.setattr(reader, "read_once", read_once)

    assert reader.read_waiting() is False


@pytest.mark.parametrize("check", ["data_waiting", "read_waiting"])
def test_a_waiter_that_found_the_lock_taken_wakes_when_a_look_ends(
    reader: FrameReader, monkeypatch: pytest.MonkeyPatch, check: str
) -> None:
    # A look that reads nothing still wakes the threads that found the lock
    # taken meanwhile: they wait for the generation to move, and would
    # otherwise sleep through their whole timeout.
    looking = threading.Event()
    go_on = threading.Event()

    def socket_has_data(conn: Any) -> bool:
        looking.set()
        go_on.wait(5)
        return False

    monkeypatch.setattr(reader_module, "socket_has_data", socket_has_data)
    looker = threading.Thread(target=getattr(reader, check), daemon=True)
    looker.start()
    assert looking.wait(5)
    seen = reader.generation
    threading.Timer(0.1, go_on.set).start()

    started = time.monotonic()
    assert reader.step(seen, 5.0) is False  # the lock was taken: it waited
    waited = time.monotonic() - started
    looker.join(5)

    assert waited < 2.0
    assert reader.generation > seen


# -- socket_has_data: the look itself -----------------------------------------------


def _conn(sock: object, buffered: bytes = b"") -> Any:
    return SimpleNamespace(transport=SimpleNamespace(sock=sock, _read_buffer=buffered))


def test_no_socket_has_no_data() -> None:
    assert socket_has_data(_conn(None)) is False


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield ours, theirs


def test_bytes_already_buffered_are_data_without_a_look(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    assert socket_has_data(_conn(pair[0], b"\x01")) is True


def test_a_socket_is_asked_with_a_zero_timeout(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    assert socket_has_data(_conn(ours)) is False
    theirs.sendall(b"x")
    deadline = time.monotonic() + 5
    while not socket_has_data(_conn(ours)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert socket_has_data(_conn(ours)) is True


def test_a_closed_socket_has_no_data() -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    ours.close()  # fileno -1: select raises ValueError

    assert socket_has_data(_conn(ours)) is False
