"""Connection: broker parameters, lazy connect, channels and retries.

A :class:`Connection` is cheap to create: nothing touches the network until
a channel is needed (or :meth:`Connection.connect` is called).  It owns the
declare cache shared by its producers, and :meth:`Connection.ensure`, the
retry loop behind ``Producer.publish(retry=True)``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal, Never

from kombu_lite._log import get_logger
from kombu_lite.channel import Channel, DeclareCache, HandedOut
from kombu_lite.connection import copying, ensuring, factories, retrying, settings
from kombu_lite.connection.blocked import report_blocked, report_unblocked
from kombu_lite.connection.failover import Hosts
from kombu_lite.connection.params import (
    UNSET,
    Password,
    SSLOption,
    Unset,
    check_unknown_keywords,
)
from kombu_lite.connection.settings import resolve_settings, retry_defaults
from kombu_lite.exceptions import ChannelError, ConnectionLost, OperationalError

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping, Sequence
    from types import TracebackType
    from typing import Self

    from kombu_lite.connection.failover import FailoverStrategy
    from kombu_lite.retry import RetryPolicy
    from kombu_lite.transport.base import (
        ConnectionParameters,
        Transport,
        WireConnection,
    )

__all__ = ["BrokerConnection", "ChannelPool", "Connection", "ConnectionPool"]

logger = get_logger(__name__)


class Connection:
    """A connection to a broker, opened lazily.

    The arguments are kombu's, in kombu's order, so kombu code ports by
    changing the import.  Every argument is checked here, before any I/O.

    Args:
        hostname: A URL (``amqp://user:pass@host:5672/vhost``,
            ``amqps://...``, ``memory://``), a ``;``-separated failover list,
            a list of URLs, or a bare host name.
        userid, password, virtual_host, port: Override the URL's parts
            (on every failover host).  ``port`` may be a decimal string.
            ``password`` may be a callable returning the password: it is
            called at every connect, before each host is tried (OAuth2
            token refresh, as in kombu 5.7).  An empty user name or
            password means the default, ``guest`` (kombu's reading of
            ``amqp://:@/``).
        insist: kombu's legacy flag; only ``False`` is accepted (brokers
            ignore it).
        ssl: ``True``, ``False``, a dict of TLS options or an
            :class:`ssl.SSLContext`.  Not given or ``None`` (kombu's
            default): on for ``amqps://`` or a URL with ``ssl_*`` query
            options, else off.  Given, it wins over the URL (``ssl=False``
            turns TLS off for ``amqps://``).
        transport: A transport name (``'amqp'``, ``'memory'``) or instance;
            overrides the URL scheme.
        connect_timeout: Seconds to wait for the broker to answer (> 0, or
            ``None`` for no limit).  Not given: the URL's
            ``?connect_timeout=``, else 4.
        transport_options: Options for the transport; unknown keys raise.
            kombu's retry keys ``max_retries``, ``interval_start``,
            ``interval_step`` and ``interval_max`` set the default retry
            policy of :meth:`ensure_connection` and of
            ``publish(retry=True)`` (:attr:`default_retry_policy`); they
            add no hidden reconnect loop: an implicit connect tries each
            host once.  kombu's ``connect_retries_timeout``, ``errback``
            and ``callback`` raise.
        login_method: SASL mechanism, such as ``'PLAIN'`` or ``'AMQPLAIN'``.
        uri_prefix: kombu's SQLAlchemy URL prefix; only ``None`` is accepted.
        heartbeat: Heartbeat interval in seconds to ask the broker for
            (``None``: the URL's ``?heartbeat=``, else 60, RabbitMQ's own
            default; ``0``: off).  A background thread sends heartbeats
            while the application is idle.
        failover_strategy: ``'round-robin'``, ``'shuffle'`` or a callable
            taking the list of URLs and returning an iterator over them.
        alternates: More URLs to fail over to.
        credential_provider: kombu's Redis credential hook; only ``None``
            is accepted.
        confirm_publish: Make every ``publish`` wait for the broker's
            confirm (also ``transport_options={'confirm_publish': True}``;
            ``'confirm_timeout'`` sets the wait, 30 s by default).
        on_blocked: Called with the broker's reason when it blocks this
            connection's publishing (``connection.blocked``: a memory or
            disk alarm); also a ``transport_options`` key.
        on_unblocked: Called when the broker lifts the block.
        blocked_connection_timeout: Seconds a publish waits for a blocked
            connection to be unblocked before raising
            :class:`~kombu_lite.exceptions.ConnectionBlocked` (default 60;
            ``None``: wait as long as it takes); also a
            ``transport_options`` key, which the argument, when given,
            overrides.
        rpc_timeout: Seconds a synchronous call (declare, bind, delete,
            purge, ``qos``, ``basic.get``, consume, cancel,
            ``confirm.select``, a channel's open and close, the
            connection's close) waits for the broker's reply before
            raising :class:`~kombu_lite.exceptions.RpcTimeout` and closing
            the channel (default 30; a finite number > 0).  Heartbeats do
            not extend it.  Also a ``transport_options`` key, which the
            argument, when given, overrides.  kombu has no such limit.

    A keyword argument that is given wins over every URL, even when its
    value is the default (``connect_timeout=4`` beats ``?connect_timeout=2``;
    ``ssl=False`` beats ``amqps://``).  ``None`` means "not given", except
    for ``connect_timeout``, where it means no limit.  Any other keyword
    raises :class:`~kombu_lite.exceptions.ConfigurationError` naming it
    (kombu ignores unknown keywords).

    Where the password shows: the :attr:`password` attribute and
    ``as_uri(include_password=True)`` return it in clear.  ``repr()``,
    ``str()``, :meth:`as_uri`, :meth:`info` (unlike kombu's, whose
    ``info()`` includes it), :attr:`alt` and every error message replace it
    with ``**``.

    Raises:
        InvalidURL: the URL is malformed (the text never shows the password).
        UnknownTransport: the scheme or ``transport`` names no transport.
        ConfigurationError: any other bad argument, including an unknown
            keyword.
    """

    def __init__(
        self,
        hostname: str | Sequence[str] = "amqp://",
        userid: str | None = None,
        password: Password | None = None,
        virtual_host: str | None = None,
        port: int | None = None,
        insist: Literal[False] = False,
        ssl: SSLOption | Unset | None = UNSET,
        transport: str | Transport | None = None,
        connect_timeout: float | Unset | None = UNSET,
        transport_options: Mapping[str, object] | None = None,
        login_method: str | None = None,
        uri_prefix: None = None,
        heartbeat: float | None = None,
        failover_strategy: FailoverStrategy = "round-robin",
        alternates: Sequence[str] | None = None,
        credential_provider: None = None,
        *,
        confirm_publish: bool = False,
        on_blocked: Callable[[str], object] | None = None,
        on_unblocked: Callable[[], object] | None = None,
        blocked_connection_timeout: float | Unset | None = UNSET,
        rpc_timeout: float | Unset = UNSET,
        **kwargs: Never,
    ) -> None:
        check_unknown_keywords(kwargs, _KEYWORDS)
        settings = resolve_settings(
            hostname,
            alternates,
            transport,
            transport_options,
            failover_strategy,
            {
                "insist": insist,
                "uri_prefix": uri_prefix,
                "credential_provider": credential_provider,
            },
            {
                "userid": userid,
                "password": password,
                "virtual_host": virtual_host,
                "port": port,
                "ssl": ssl,
                "connect_timeout": connect_timeout,
                "heartbeat": heartbeat,
                "login_method": login_method,
            },
            confirm_publish=confirm_publish,
            on_blocked=on_blocked,
            on_unblocked=on_unblocked,
            blocked_connection_timeout=blocked_connection_timeout,
            rpc_timeout=rpc_timeout,
            report_blocked=self._report_blocked,
            report_unblocked=self._report_unblocked,
        )
        self.transport: Transport = settings.transport
        #: kombu's attribute: the transport's name as given (the URL scheme
        #: or ``transport=``: ``'amqp'``, ``'amqps'``, ``'pyamqp'``,
        #: ``'memory'``), or the class of a transport instance.
        self.transport_cls: str | type = settings.transport_cls
        self.transport_options: dict[str, object] = settings.transport_options
        #: The retry policy of :meth:`ensure_connection` and
        #: ``publish(retry=True)`` when the call gives none: the publish
        #: default with ``transport_options``' retry keys applied.
        self.default_retry_policy: RetryPolicy = retry_defaults(self.transport_options)
        self._explicit = settings.explicit
        #: Wait for the broker's confirm of every publish (kombu's
        #: ``transport_options={'confirm_publish': True}`` works too).
        self.confirm_publish = settings.confirm_publish
        #: Seconds ``publish`` waits for a confirm before raising ConfirmTimeout.
        self.confirm_timeout = settings.confirm_timeout
        #: Called with the reason when the broker blocks publishing.
        self.on_blocked: Callable[[str], object] | None = settings.blocked.on_blocked
        #: Called when the broker unblocks publishing.
        self.on_unblocked: Callable[[], object] | None = settings.blocked.on_unblocked
        #: Seconds a publish waits on a blocked connection (None: no limit).
        self.blocked_connection_timeout = settings.blocked.timeout
        #: Seconds a synchronous call waits for the broker's reply.
        self.rpc_timeout = settings.rpc_timeout
        password_provider = settings.explicit.password
        self._hosts = Hosts(
            settings.urls,
            settings.hosts,
            None if isinstance(password_provider, str | None) else password_provider,
        )
        #: ``'round-robin'``, ``'shuffle'`` or a callable ordering the URLs.
        self.failover_strategy = settings.failover_strategy
        self._lock = threading.RLock()
        self._wire: WireConnection | None = None
        self._default_channel: Channel | None = None
        self._handed_out = HandedOut()
        #: The entities declared on the current connection; cleared on
        #: every (re)connect, because a broker restart loses transient ones.
        self.declare_cache = DeclareCache()

    @property
    def declared_entities(self) -> set[Hashable]:
        """The keys of the entities declared on the current connection.

        kombu's attribute, kept for compatibility: the live set behind
        :attr:`declare_cache`.
        """
        return self.declare_cache.keys

    def _report_blocked(self, reason: str) -> None:
        report_blocked(self, self.on_blocked, reason)

    def _report_unblocked(self) -> None:
        report_unblocked(self, self.on_unblocked)

    # -- the parameters of the current host ------------------------------------

    @property
    def _params(self) -> ConnectionParameters:
        return self._hosts.current

    @property
    def hostname(self) -> str:
        """The current broker's host name."""
        return self._params.hostname

    @property
    def port(self) -> int:
        """The current broker's port."""
        return self._params.port

    @property
    def host(self) -> str:
        """``'hostname:port'`` of the current broker."""
        return f"{self.hostname}:{self.port}"

    @property
    def userid(self) -> str:
        """The user name used to log in."""
        return self._params.userid

    @property
    def password(self) -> Password:
        """The password used to log in, in clear (as in kombu).

        A callable given as ``password=`` is returned as it is (kombu's
        attribute too).  ``repr()``, :meth:`as_uri` and :meth:`info` mask it.
        """
        provider = self._hosts.password_provider
        return self._params.password if provider is None else provider

    @property
    def virtual_host(self) -> str:
        """The virtual host."""
        return self._params.virtual_host

    @property
    def ssl(self) -> SSLOption:
        """The TLS setting."""
        return self._params.ssl

    @property
    def connect_timeout(self) -> float | None:
        """Seconds to wait for the broker to answer when connecting."""
        return self._params.connect_timeout

    @property
    def heartbeat(self) -> float:
        """The heartbeat interval asked for, in seconds (0: off)."""
        return self._params.heartbeat

    @property
    def login_method(self) -> str | None:
        """The SASL mechanism, or ``None`` for the transport's default."""
        return self._params.login_method

    @property
    def alt(self) -> list[str]:
        """All broker URLs, passwords masked, in failover order."""
        return self._hosts.alt

    @property
    def connection_errors(self) -> tuple[type[BaseException], ...]:
        """Errors that mean the connection failed."""
        return (OperationalError,)

    @property
    def channel_errors(self) -> tuple[type[BaseException], ...]:
        """Errors that mean the broker closed a channel."""
        return (ChannelError,)

    recoverable_connection_errors = connection_errors
    recoverable_channel_errors: tuple[type[BaseException], ...] = ()

    # kombu's names; written in connection/settings.py.
    as_uri = settings.as_uri
    info = settings.info

    def __repr__(self) -> str:
        return f"<Connection: {self.as_uri()} at {id(self):#x}>"

    # -- connecting -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a live connection to the broker is open."""
        wire = self._wire
        return wire is not None and wire.is_connected

    @property
    def connection(self) -> WireConnection:
        """The transport's connection object, connecting first if needed.

        As in kombu; it changes after a reconnect.
        """
        return self._ensure_wire()

    def connect(self) -> Self:
        """Connect now (each failover host is tried once), and return self.

        Raises:
            OperationalError: no broker could be reached.
            AccessRefused: the credentials were refused.
            NotAllowed: the virtual host does not exist.
        """
        self._ensure_wire()
        return self

    def _ensure_wire(self, deadline: float | None = None) -> WireConnection:
        with self._lock:
            wire = self._wire
            if wire is not None and wire.is_connected:
                return wire
            self._drop_wire()
            return self._connect_pass(deadline)

    def _connect_pass(self, deadline: float | None) -> WireConnection:
        wire = self._hosts.connect(
            self.transport, self.failover_strategy, deadline, self.as_uri
        )
        self._wire = wire
        self.declare_cache.clear()
        logger.debug("connected to %s", self.as_uri())
        return wire

    def _next_host(self) -> None:
        self._hosts.advance()

    def _drop_wire(self) -> None:
        wire, self._wire = self._wire, None
        self._default_channel = None
        self.declare_cache.clear()
        if wire is not None:
            wire.close()

    def _connect_recoverable(self) -> None:
        self._ensure_wire()

    # -- channels and events --------------------------------------------------

    def channel(self) -> Channel:
        """Open a new channel (connecting first if needed)."""
        wire = self._ensure_wire()
        return self._handed_out.add(Channel(self, wire.channel()))

    @property
    def default_channel(self) -> Channel:
        """The connection's own channel, re-opened if it was closed."""
        with self._lock:
            channel = self._default_channel
            if channel is not None and channel.is_open and self.connected:
                return channel
            channel = self.channel()
            self._default_channel = channel
            return channel

    def drain_events(self, timeout: float | None = None) -> None:
        """Wait for one event (a delivery, a return) and dispatch it.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds
                (``socket.timeout`` is the same class).
        """
        self._ensure_wire().drain_events(timeout)

    def heartbeat_check(self, rate: int = 2) -> None:
        """kombu's heartbeat tick: here only a check that nothing is wrong.

        A background thread sends the heartbeats and watches the broker's,
        so nothing needs calling; this exists because kombu code (its
        ``ConsumerMixin``) calls it.  It never connects and sends nothing.

        Raises:
            ConnectionLost: the connection was found dead (no heartbeat
                from the broker in time, or the socket broke).
        """
        del rate  # kombu's ticks per interval: the thread keeps its own
        wire = self._wire
        if wire is not None and not wire.is_connected:
            raise ConnectionLost(f"the connection to {self.as_uri()} is lost")

    def release(self) -> None:
        """Close it (batched acks sent first); using it reconnects, but its
        channels raise ChannelClosed."""
        with self._lock:
            self._handed_out.close_ack_batches()
            self._drop_wire()
            self._handed_out.retire()

    close = release

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # -- copies and moves (kombu's names; written in connection/copying.py) ----

    clone = copying.clone
    __copy__ = copying.copy
    __deepcopy__ = copying.deepcopy
    switch = copying.switch

    # -- retries (kombu's names; written in connection/ensuring.py) -------------

    ensure_connection = ensuring.ensure_connection
    ensure = ensuring.ensure
    autoretry = ensuring.autoretry

    # The retry loop of ensure(), also used by Producer.publish and
    # maybe_declare with a policy built from their retry_policy.
    _call_with_retries = retrying.call

    # -- factories (kombu's names; written in connection/factories.py) ----------

    Producer = factories.producer
    Consumer = factories.consumer
    SimpleQueue = factories.simple_queue
    SimpleBuffer = factories.simple_buffer
    Pool = factories.pool
    ChannelPool = factories.channel_pool


# The names Connection() accepts, for the "did you mean" of an unknown one.
_code = Connection.__init__.__code__
_KEYWORDS = _code.co_varnames[1 : _code.co_argcount + _code.co_kwonlyargcount]
del _code

#: kombu's old name for :class:`Connection`, kept by kombu for old code.
BrokerConnection = Connection

# kombu exports the pools here too; they subclass Connection, so come last.
from kombu_lite.connection.pool import ChannelPool, ConnectionPool  # noqa: E402
