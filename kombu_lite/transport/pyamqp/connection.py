"""py-amqp connections: TLS, login errors, and the transport entry point."""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import ssl as _ssl
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

import amqp
from amqp import exceptions as amqp_errors
from amqp import spec

from kombu_lite._log import get_logger
from kombu_lite._version import __version__
from kombu_lite.exceptions import (
    AccessRefused,
    ConnectionBlocked,
    ConnectionLost,
    NotAllowed,
    OperationalError,
    ProtocolError,
    ResourceError,
    RpcTimeout,
)
from kombu_lite.transport._tls import build_ssl_context
from kombu_lite.transport.pyamqp._mapping import Closable as _Closable
from kombu_lite.transport.pyamqp._mapping import mapped
from kombu_lite.transport.pyamqp._transport import (
    BufferedTCPTransport as _BufferedTCPTransport,
)
from kombu_lite.transport.pyamqp._transport import (
    ContextSSLTransport as _ContextSSLTransport,
)
from kombu_lite.transport.pyamqp._transport import FrameReader as _FrameReader
from kombu_lite.transport.pyamqp.channel import PyAmqpChannel
from kombu_lite.transport.pyamqp.reader import AmqpChannel, FrameReader, ReplyWaiting

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from kombu_lite.transport.base import ConnectionParameters

__all__ = ["PyAmqpConnection", "PyAmqpTransport"]

_log = get_logger(__name__)
#: Seconds between two looks at the socket before publishes.
_POLL_INTERVAL = 0.02


class _Secret:
    """A password on its way to py-amqp; its ``repr`` never shows it.

    The connect path keeps the password only in one of these, so the
    locals a traceback shows (``pytest --showlocals``, Sentry) do not hold
    it in clear; :meth:`reveal` is called inside the one py-amqp call.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The password in clear."""
        return self._value

    def __repr__(self) -> str:
        return "<password **>"


#: AMQP's frame-min-size: what every peer accepts before connection.tune.
_FRAME_MIN_SIZE = 4096


class _AmqpConnection(ReplyWaiting, amqp.Connection):  # type: ignore[misc,no-any-unimported]
    """py-amqp's Connection with our transports, limits and channel checks.

    Once connected, every wait for a reply goes through ``kl_reader``.
    """

    kl_tls: tuple[_ssl.SSLContext, str] | None = None
    #: Set by PyAmqpConnection once the handshake is done.
    kl_reader: FrameReader | None = None
    Channel = AmqpChannel
    #: When the connect in progress must be done (``time.monotonic``).
    _kl_deadline: float | None = None

    # py-amqp drops connection.blocked's reason (it parses no arguments);
    # RabbitMQ sends one ("low on memory", "low on disk"), so read it.
    _METHODS: ClassVar[dict[Any, Any]] = {
        **amqp.Connection._METHODS,
        spec.Connection.Blocked: spec.method(spec.Connection.Blocked, "s"),
    }

    def __init__(self, host: str, *, secret: _Secret, **kwargs: Any) -> None:
        super().__init__(host, password=secret.reveal(), **kwargs)
        #: Every channel id this connection has used: a frame for one of
        #: them that is closed now is late, not a broken peer.
        self._kl_used_ids: set[int] = set()

    def connect(self, callback: Any = None) -> Any:
        """py-amqp's connect, with ``connect_timeout`` as one deadline.

        The TCP connect, the TLS handshake and every read and write of the
        AMQP handshake share it (py-amqp gives each read the whole timeout
        again, and the TLS handshake none).  Past it: ``TimeoutError``.
        """
        timeout = self.connect_timeout
        self._kl_deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return super().connect(callback)
        finally:
            self._kl_deadline = None
            transport = self._transport
            if transport is not None:
                transport.kl_end_deadline()

    def _on_blocked(self, reason: str = "") -> Any:
        if self.on_blocked:
            return self.on_blocked(reason or "connection blocked, see broker logs")
        return None

    def _on_tune(
        self,
        channel_max: int,
        frame_max: int,
        server_heartbeat: int,
        argsig: str = "BlB",
    ) -> None:
        # py-amqp takes the server's limits as they are; AMQP says each side
        # may ask for less, and the lower non-zero value wins.
        super()._on_tune(
            _lower(self.channel_max, channel_max),
            _lower(self.frame_max, frame_max),
            server_heartbeat,
            argsig,
        )
        self.transport.kl_frame_max = self.frame_max

    # -- channels ----------------------------------------------------------------

    def _get_free_channel_id(self) -> int:
        try:
            channel_id: int = super()._get_free_channel_id()
        except amqp_errors.ResourceError as exc:
            # Checked before channel.open is sent: the connection is fine.
            raise ResourceError(
                f"all {self.channel_max} channel ids of the connection to "
                f"{self.host} are in use (channel_max): close a channel before "
                f"opening another; the connection and its channels stay open"
            ) from exc
        self._kl_used_ids.add(channel_id)
        return channel_id

    def _claim_channel_id(self, channel_id: int) -> int:
        claimed: int = super()._claim_channel_id(channel_id)
        self._kl_used_ids.add(claimed)
        return claimed

    def on_inbound_method(
        self, channel_id: int, method_sig: tuple[int, int], payload: bytes, content: Any
    ) -> Any:
        channels = self.channels
        if channels is None or channel_id in channels:
            return super().on_inbound_method(channel_id, method_sig, payload, content)
        # py-amqp raises KeyError for a channel it does not have.
        name = _method_name(method_sig)
        if method_sig == spec.Channel.Close:
            # The peer closes a channel we do not have (any more): answering
            # lets it free the channel; nothing here depends on it.
            _log.warning(
                "%s closed channel %d, which this connection has no more: "
                "answered close-ok",
                self.host,
                channel_id,
            )
            self.frame_writer(1, channel_id, spec.Channel.CloseOk, b"", None)
            return None
        if method_sig == spec.Channel.CloseOk or channel_id in self._kl_used_ids:
            # Sent before the peer saw our channel.close: late, not wrong.
            _log.debug(
                "%s sent %s on channel %d, closed since: ignored",
                self.host,
                name,
                channel_id,
            )
            return None
        # AMQP makes this a connection error (504 channel-error): tell the
        # peer why and hang up without waiting for its close-ok, which a
        # peer this confused may never send.
        text = (
            f"the peer sent {name} on channel {channel_id}, which this "
            f"connection never opened: the connection is given up"
        )
        with contextlib.suppress(Exception):
            self.send_method(
                spec.Connection.Close, "BsBB", (504, text[:255], *method_sig)
            )
        self.collect()
        raise amqp_errors.UnexpectedFrame(text)

    def Transport(  # noqa: N802 - py-amqp's hook name
        self,
        host: str,
        connect_timeout: float | None,
        ssl: object = False,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        # py-amqp passes ssl, read_timeout and write_timeout by position.
        del ssl  # TLS is ours: kl_tls
        options = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            **kwargs,
        }
        transport: _FrameReader
        if self.kl_tls is None:
            transport = _BufferedTCPTransport(host, **options)
        else:
            transport = _ContextSSLTransport(host, ssl={}, **options)
            transport.kl_context, transport.kl_server_hostname = self.kl_tls
        # Until connection.tune, the frame_max the client asks for is the
        # limit (never below AMQP's minimum, which every peer may send).
        transport.kl_frame_max = max(self.frame_max, _FRAME_MIN_SIZE)
        transport.kl_deadline = self._kl_deadline
        return transport


def _method_name(method_sig: tuple[int, int]) -> str:
    """``'basic.deliver'`` for ``(60, 60)``."""
    name = amqp_errors.METHOD_NAME_MAP.get(method_sig)
    return name.lower() if name else f"method {method_sig[0]}.{method_sig[1]}"


class PyAmqpConnection:
    """One connection over py-amqp (a :class:`~.base.WireConnection`)."""

    def __init__(
        self,
        connection: Any,
        where: str,
        params: ConnectionParameters | None = None,
    ) -> None:
        self._conn = connection
        self.where = where
        self._broken = False
        #: The broker's reason while it blocks publishing, else None.
        self.blocked_reason: str | None = None
        self._blocked_timeout = params.blocked_connection_timeout if params else 60.0
        self._on_blocked = params.on_blocked if params else None
        self._on_unblocked = params.on_unblocked if params else None
        #: When :meth:`poll` looks at the socket again (``time.monotonic``).
        self.next_poll = 0.0
        connection.on_blocked = self._blocked
        connection.on_unblocked = self._unblocked
        #: Held while a confirmed publish takes its tag and writes its frames.
        self.publish_lock = threading.Lock()
        #: Reads frames for every thread that waits (see reader.py); writers
        #: are serialised by the connection's frame-writer lock.
        self.reader = FrameReader(
            connection, where, params.rpc_timeout if params else 30.0
        )
        #: Held while one thread reads one frame (never for a whole call).
        self.read_lock = self.reader.read_lock
        # Channel numbers are taken one thread at a time (py-amqp's own
        # allocation is not thread-safe); the open itself waits unlocked.
        self._open_lock = threading.Lock()
        connection.kl_reader = self.reader
        self._stop = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        interval = float(connection.heartbeat or 0)
        if interval > 0:
            self._heartbeat_thread = threading.Thread(
                target=self._send_heartbeats,
                args=(interval,),
                name=f"kombu_lite-heartbeat-{where}",
                daemon=True,
            )
            self._heartbeat_thread.start()

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
        ``ConnectionLost`` instead of hanging.
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
                self._broken = True
                with contextlib.suppress(OSError, AttributeError):
                    conn.transport.sock.shutdown(socket.SHUT_RDWR)
                return

    def _data_waiting(self) -> bool:
        transport = self._conn.transport
        sock = getattr(transport, "sock", None)
        if sock is None:
            return False
        if getattr(transport, "_read_buffer", b""):
            return True
        if isinstance(sock, _ssl.SSLSocket) and sock.pending() > 0:
            return True
        try:
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    # -- connection.blocked ------------------------------------------------------

    def _blocked(self, reason: str) -> None:
        self.blocked_reason = str(reason or "blocked")
        self._notify_user(self._on_blocked, self.blocked_reason)

    def _unblocked(self) -> None:
        self.blocked_reason = None
        self.confirm_arrived()
        self._notify_user(self._on_unblocked)

    @staticmethod
    def _notify_user(callback: Any, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - logged; user code in the reader
            # Runs inside the frame reader: an error here must not break it.
            _log.exception("on_blocked/on_unblocked callback failed")

    def poll(self, *, force: bool = False) -> None:
        """Handle frames already waiting on the socket, without blocking.

        Called before each publish (at most every 20 ms), so that a
        ``connection.blocked`` or a channel close is seen by a connection
        that only ever writes.  Skipped when another thread is reading.
        """
        now = time.monotonic()
        if now < self.next_poll and not force:
            return
        self.next_poll = now + _POLL_INTERVAL
        if not self._data_waiting():
            return
        reader = self.reader
        with self._guard():
            reader.step(reader.generation, 0)

    def before_publish(self) -> None:
        """Wait while the broker blocks publishing, up to the set timeout.

        Raises:
            ConnectionBlocked: still blocked after ``blocked_connection_timeout``;
                the message was not sent.
        """
        if time.monotonic() >= self.next_poll:
            self.poll()
        if self.blocked_reason is None:
            return
        limit = self._blocked_timeout
        deadline = None if limit is None else time.monotonic() + limit
        while self.blocked_reason is not None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ConnectionBlocked(
                    f"{self.where} blocks publishing ({self.blocked_reason}) and "
                    f"did not unblock within {limit}s: the message was not sent",
                    reply_text=self.blocked_reason,
                )
            self.wait_for_event(remaining, None)

    @property
    def generation(self) -> int:
        """Bumped after every read: pass it to :meth:`wait_for_event`."""
        return self.reader.generation

    def blocked_during_confirm(
        self, since: float | None, delivery_tag: int
    ) -> tuple[float | None, float | None]:
        """Bound a confirm wait by ``blocked_connection_timeout``.

        A broker that blocks the connection stops reading it: a message
        written just before the block waits, unread, for the unblock, and so
        does its confirm.  ``since`` is when this wait first saw the block
        (None: not yet).  Returns the new ``since`` and how long the wait may
        go on before the limit (None: no limit now).

        Raises:
            ConnectionBlocked: blocked for the whole timeout; the outcome of
                the message is unknown, so it must not be sent again.
        """
        if self.blocked_reason is None:
            return None, None
        now = time.monotonic()
        since = now if since is None else since
        limit = self._blocked_timeout
        if limit is None:
            return since, None
        left = since + limit - now
        if left <= 0:
            raise ConnectionBlocked(
                f"{self.where} blocks publishing ({self.blocked_reason}) and did "
                f"not unblock within {limit}s while message {delivery_tag} awaited "
                f"its confirm: the outcome is unknown (the broker holds it unread "
                f"and may enqueue it once unblocked), so it is not retried",
                reply_text=self.blocked_reason,
            )
        return since, left

    def write_stalled(self, exc: OSError) -> OperationalError:
        """The error for a write that timed out: the connection is dropped.

        Part of a frame may have gone out, so the connection cannot be used
        again.  The message may or may not have reached the broker.
        """
        self._broken = True
        with contextlib.suppress(Exception):
            self.poll(force=True)  # a connection.blocked may be unread
        self.close()
        if self.blocked_reason is not None:
            return ConnectionBlocked(
                f"a write to {self.where} stalled while the broker blocks "
                f"publishing ({self.blocked_reason}): the connection was closed "
                f"and the message may or may not have arrived; not retried",
                reply_text=self.blocked_reason,
            )
        return ConnectionLost(
            f"a write to {self.where} stalled ({str(exc) or 'timed out'}): the "
            f"connection was closed and the message may or may not have arrived"
        )

    @property
    def heartbeat(self) -> float:
        """The negotiated heartbeat interval in seconds (0: off)."""
        return float(self._conn.heartbeat or 0)

    @property
    def is_connected(self) -> bool:
        """False once closed or found broken."""
        return not self._broken and bool(self._conn.connected)

    @property
    def server_properties(self) -> Mapping[str, object]:
        """The broker's ``connection.start`` properties."""
        return dict(self._conn.server_properties or {})

    def channel(self) -> PyAmqpChannel:
        """Open a channel.

        Raises:
            RpcTimeout: no ``channel.open-ok`` within ``rpc_timeout``.
        """
        conn = self._conn
        with self._guard():
            with self._open_lock:
                if conn.channels is None:
                    raise amqp_errors.RecoverableConnectionError(
                        "connection already closed"
                    )
                raw = conn.Channel(conn)  # takes a number, sends nothing
            raw.open()
            return PyAmqpChannel(self, raw)

    def drain_events(self, timeout: float | None = None) -> None:
        """Dispatch one event; TimeoutError when nothing came in time.

        A queued delivery (read by any thread meanwhile) is handed to its
        consumer first, in this thread and outside the read lock.  Else
        frames are read (or, while another thread reads, that thread's
        frames awaited) until a method arrives; a delivery is then handed
        out at once.  Only this method runs consumer callbacks, so they
        never nest inside a confirm wait or a synchronous call.
        """
        reader = self.reader
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while True:
            seen = reader.generation
            if reader.has_queued:
                if reader.hand_out():
                    return
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0 and not first:
                raise TimeoutError(f"nothing arrived from {self.where} in {timeout}s")
            first = False
            try:
                completed = reader.step(
                    seen, None if remaining is None else max(remaining, 0.0)
                )
            except BaseException:
                # Mapped only when something failed: a context manager around
                # every event costs more than the event on a fast consumer.
                with self._guard():
                    raise
            if completed and not reader.has_queued:
                return

    def wait_for_event(
        self,
        timeout: float | None,
        channel: _Closable | None,
        seen: int | None = None,
    ) -> None:
        """Read and dispatch what arrives, for up to about ``timeout`` seconds.

        If another thread is reading, wait for it to read something instead
        of reading concurrently.  ``seen`` is :attr:`generation` as it was
        before the caller looked at what it waits for (then nothing read
        meanwhile is missed).
        """
        step = 1.0 if timeout is None else max(min(timeout, 1.0), 0.0)
        reader = self.reader
        try:
            reader.step(reader.generation if seen is None else seen, step)
        except BaseException:
            with self._guard(channel):
                raise

    def confirm_arrived(self) -> None:
        """Wake threads waiting for confirms that another thread read."""
        self.reader.wake()

    @contextlib.contextmanager
    def _guard(self, channel: _Closable | None = None) -> Iterator[None]:
        try:
            with mapped(self.where, channel):
                yield
        except RpcTimeout:
            raise  # one channel's call: the connection is fine
        except OperationalError:
            self._broken = True
            raise

    def close(self) -> None:
        """Close the connection; never raises."""
        self._broken = True
        self._stop.set()
        # The peer may be gone already: closing must not raise.  The wait
        # for close-ok is bounded by rpc_timeout, and holds no lock: a
        # consumer thread reading meanwhile reads the close-ok for it.
        with contextlib.suppress(Exception):
            self._conn.close()
        with contextlib.suppress(Exception):
            self._conn.collect()
        # Threads still waiting find the connection closed.
        self.reader.wake()


class PyAmqpTransport:
    """The ``amqp``/``pyamqp``/``amqps`` transport: RabbitMQ through py-amqp."""

    name = "amqp"
    default_port = 5672
    options = frozenset(
        {
            "client_properties",
            "frame_max",
            "channel_max",
            "read_timeout",
            "write_timeout",
            "socket_settings",
            "locale",
        }
    )

    def connect(self, params: ConnectionParameters) -> PyAmqpConnection:
        """Open a connection (see :meth:`~.base.Transport.connect`)."""
        host = params.hostname
        where = f"{host}:{params.port}"
        options = dict(params.transport_options)
        client_properties = {
            "product": "kombu_lite",
            "version": __version__,
            "connection_name": f"kombu_lite {__version__}",
            **dict(options.pop("client_properties", None) or {}),  # type: ignore[call-overload]
        }
        # The password goes only into a _Secret, revealed inside the one
        # py-amqp call: a traceback's locals never show it in clear.
        kwargs: dict[str, Any] = {
            "userid": params.userid,
            "virtual_host": params.virtual_host,
            "connect_timeout": params.connect_timeout,
            "heartbeat": params.heartbeat,
            "client_properties": client_properties,
            **options,
        }
        if params.login_method:
            kwargs["login_method"] = params.login_method
        if params.blocked_connection_timeout is not None:
            # A broker that blocks publishing stops reading: without a send
            # timeout a write would hang for good once the buffers fill.
            kwargs.setdefault(
                "write_timeout", max(1, round(params.blocked_connection_timeout))
            )
        # The TLS files are read first: a missing or bad one raises
        # ConfigurationError (naming the option and the path) before any
        # network I/O, with nothing to close.
        tls = build_ssl_context(params.ssl, host) if params.ssl else None
        conn = _AmqpConnection(
            f"[{host}]:{params.port}" if ":" in host else where,
            secret=_Secret(params.password),
            **kwargs,
        )
        if tls is not None:
            conn.kl_tls = tls
        try:
            conn.connect()
        except amqp_errors.AccessRefused as exc:
            _close_quietly(conn)
            raise AccessRefused(
                f"login refused by {where} for user {params.userid!r}: check the "
                f"user name and password (or the login method)",
                reply_code=403,
                reply_text=str(exc.reply_text or ""),
            ) from None
        except amqp_errors.NotAllowed as exc:
            _close_quietly(conn)
            raise NotAllowed(
                f"{where} refused virtual host {params.virtual_host!r} "
                f"({exc.reply_text}): it does not exist or user "
                f"{params.userid!r} may not use it",
                reply_code=530,
                reply_text=str(exc.reply_text or ""),
            ) from None
        except (
            amqp_errors.UnexpectedFrame,
            amqp_errors.FrameSyntaxError,
            amqp_errors.FrameError,
            amqp_errors.InvalidCommand,
        ) as exc:
            _close_quietly(conn)
            raise ProtocolError(
                f"the peer at {where} is not an AMQP 0-9-1 server ({exc})"
            ) from None
        except TimeoutError:
            _close_quietly(conn)
            # connect_timeout bounds TCP connect, TLS and AMQP handshakes
            # together (see _AmqpConnection.connect).
            handshake = "TLS and AMQP handshakes" if tls else "AMQP handshake"
            raise OperationalError(
                f"{where} did not complete the {handshake} within "
                f"{params.connect_timeout}s: is it an AMQP 0-9-1 server, and is "
                f"it overloaded?"
            ) from None
        except _ssl.SSLError as exc:
            _close_quietly(conn)
            raise ProtocolError(f"TLS handshake with {where} failed: {exc}") from None
        except ConnectionRefusedError:
            _close_quietly(conn)
            raise OperationalError(
                f"connection refused by {where}: is the broker running?"
            ) from None
        except (OSError, amqp_errors.AMQPError) as exc:
            _close_quietly(conn)
            if isinstance(exc, amqp_errors.AMQPError) or _looks_like_eof(exc):
                raise ProtocolError(
                    f"{where} closed the connection during the AMQP handshake: "
                    f"it is not an AMQP 0-9-1 server, or it refused us ({exc})"
                ) from None
            raise OperationalError(f"cannot connect to {where}: {exc}") from None
        return PyAmqpConnection(conn, where, params)


def _lower(ours: int | None, theirs: int) -> int:
    """The negotiated limit: the lower of two values, where 0 means none."""
    if not ours:
        return theirs
    if not theirs:
        return ours
    return min(ours, theirs)


def _looks_like_eof(exc: OSError) -> bool:
    if exc.errno == errno.EINVAL:
        # Linux refuses py-amqp's TCP setsockopt calls with EINVAL once the
        # peer has already reset the new connection (it accepted, then hung
        # up, as a non-AMQP server does).
        return True
    text = str(exc).lower()
    return "closed" in text or isinstance(exc, ConnectionResetError)


def _close_quietly(conn: Any) -> None:
    # A failed handshake leaves a half-open socket; it must not leak.
    with contextlib.suppress(Exception):
        conn.collect()
