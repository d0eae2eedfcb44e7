"""Heartbeats of a py-amqp connection: sent when idle, and a silent broker noticed."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from kombu_lite._log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Heartbeat"]

_log = get_logger(__name__)


class Heartbeat:
    """A daemon thread that beats for one connection until :meth:`stop`.

    Under eventlet's or gevent's monkey patching (``threading`` patched
    before the connection is made) the thread is a green thread, and its
    waits yield to the hub.

    Args:
        conn: The connected py-amqp connection.
        where: ``host:port``, for the log.
        interval: The negotiated heartbeat, in seconds (> 0).
        on_dead: Called (in the thread) once the broker is found silent,
            after the socket was shut down.
        data_waiting: Whether bytes wait unread on the socket; it must not
            look at the socket while another thread reads it (see
            :meth:`.reader.FrameReader.data_waiting`).
    """

    def __init__(
        self,
        conn: Any,
        where: str,
        interval: float,
        on_dead: Callable[[], None],
        data_waiting: Callable[[], bool],
    ) -> None:
        self._conn = conn
        self.where = where
        self._on_dead = on_dead
        self._data_waiting = data_waiting
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._send_heartbeats,
            args=(interval,),
            name=f"kombu_lite-heartbeat-{where}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (the thread ends within half an interval)."""
        self._stop.set()

    def _send_heartbeats(self, interval: float) -> None:
        """Keep an idle connection alive, and notice a silent broker.

        py-amqp never sends heartbeats itself.  This daemon thread only
        *writes* (py-amqp serialises frame writes), and only when nothing
        else was sent for half an interval, so it never reads frames or runs
        callbacks behind the application's back.

        It also watches for the broker's side: nothing read and nothing
        waiting on the socket for two intervals means the broker is gone
        (RabbitMQ sends a heartbeat every interval), so the socket is shut
        down.  A call blocked waiting for a reply then fails with
        ``ConnectionLost`` instead of hanging.  Whether something waits is
        asked of the frame reader, which never looks at the socket while
        another thread reads it (that thread counts what arrives).
        """
        conn = self._conn
        last_sent = -1
        last_received = conn.bytes_recv
        heard = time.monotonic()
        while not self._stop.wait(interval / 2):
            if conn.bytes_sent == last_sent:
                try:
                    conn.send_heartbeat()
                except Exception:  # noqa: BLE001 - the owner sees the failure next
                    return
            last_sent = conn.bytes_sent
            now = time.monotonic()
            if conn.bytes_recv != last_received or self._data_waiting():
                last_received = conn.bytes_recv
                heard = now
            elif now - heard > 2 * interval:
                _log.warning(
                    "%s sent nothing for %.0fs (heartbeat %ss): closing the "
                    "connection as dead",
                    self.where,
                    now - heard,
                    interval,
                )
                self._on_dead()
                with contextlib.suppress(OSError, AttributeError):
                    conn.transport.sock.shutdown(socket.SHUT_RDWR)
                return
