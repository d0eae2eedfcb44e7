"""py-amqp's Connection, adapted: our transports, limits, deadline, channel checks."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any, ClassVar

import amqp
from amqp import exceptions as amqp_errors
from amqp import spec

from kombu_lite._log import get_logger
from kombu_lite.exceptions import ResourceError
from kombu_lite.transport.pyamqp._transport import (
    BufferedTCPTransport as _BufferedTCPTransport,
)
from kombu_lite.transport.pyamqp._transport import (
    ContextSSLTransport as _ContextSSLTransport,
)
from kombu_lite.transport.pyamqp._transport import FrameReader as _FrameReader
from kombu_lite.transport.pyamqp.inbound import frame_handler as inbound_frame_handler
from kombu_lite.transport.pyamqp.reader import AmqpChannel, FrameReader, ReplyWaiting

if TYPE_CHECKING:
    import ssl as _ssl

__all__ = ["AmqpConnection", "Secret"]

_log = get_logger(__name__)


class Secret:
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


class AmqpConnection(ReplyWaiting, amqp.Connection):  # type: ignore[misc,no-any-unimported]
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

    def __init__(self, host: str, *, secret: Secret, **kwargs: Any) -> None:
        # Deliveries are read by inbound.py's frame handler, py-amqp's own
        # for everything else.
        kwargs.setdefault("frame_handler", inbound_frame_handler)
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
        if method_sig == spec.Channel.Close and channel_id in self._kl_used_ids:
            # A channel whose close handshake is done: the peer repeated its
            # close before it read our close-ok (RabbitMQ 3.10 resends a
            # consumer_timeout's close at each channel tick).  A second
            # close-ok would be a frame on a channel the peer has freed,
            # which RabbitMQ answers by closing the connection (504).
            _log.debug(
                "%s closed channel %d again, closed since: ignored",
                self.host,
                channel_id,
            )
            return None
        if method_sig == spec.Channel.Close:
            # The peer closes a channel we never opened: answering lets it
            # free the channel; nothing here depends on it.
            _log.warning(
                "%s closed channel %d, which this connection never opened: "
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


def _lower(ours: int | None, theirs: int) -> int:
    """The negotiated limit: the lower of two values, where 0 means none."""
    if not ours:
        return theirs
    if not theirs:
        return ours
    return min(ours, theirs)
