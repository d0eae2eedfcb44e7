"""A Connection's arguments, checked and resolved; and how it describes itself.

:func:`resolve_settings` is everything ``Connection()`` does before it
stores anything: every argument is checked here, in a fixed order, before
any I/O, and the URLs become one :class:`ConnectionParameters` per
failover host.  :func:`uri_of`, :func:`info_of` and :func:`clone_arguments`
turn a connection's settings back into kombu's forms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from kombu_lite.connection.blocked import BlockedOptions
from kombu_lite.connection.failover import FailoverStrategy, check_failover_strategy
from kombu_lite.connection.params import (
    DEFAULT_BLOCKED_TIMEOUT,
    DEFAULT_CONFIRM_TIMEOUT,
    RETRY_POLICY_OPTIONS,
    ExplicitSettings,
    Unset,
    build_params,
    check_explicit,
    check_kombu_only,
    check_transport_options,
    parse_host,
    rpc_timeout_option,
    seconds,
    split_hosts,
)
from kombu_lite.connection.url import format_url
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.retry import DEFAULT_PUBLISH_RETRY_POLICY, RetryPolicy
from kombu_lite.transport import resolve_transport

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from kombu_lite.connection import Connection
    from kombu_lite.connection.url import URL
    from kombu_lite.transport.base import ConnectionParameters, Transport

__all__ = [
    "Configured",
    "Settings",
    "as_uri",
    "clone_arguments",
    "info",
    "info_of",
    "resolve_settings",
    "retry_defaults",
    "uri_of",
]


@dataclass(frozen=True, slots=True)
class Settings:
    """What ``Connection()`` made of its arguments."""

    transport: Transport
    #: kombu's ``Connection.transport_cls``: the scheme or transport name
    #: given (``'amqp'``, ``'amqps'``, ``'pyamqp'``, ``'memory'``), or the
    #: class of a transport instance.
    transport_cls: str | type
    transport_options: dict[str, object]
    explicit: ExplicitSettings
    confirm_publish: bool
    confirm_timeout: float
    blocked: BlockedOptions
    rpc_timeout: float
    urls: list[str]
    hosts: list[ConnectionParameters]
    failover_strategy: FailoverStrategy


def resolve_settings(
    hostname: str | Sequence[str],
    alternates: Sequence[str] | None,
    transport: str | Transport | None,
    transport_options: Mapping[str, object] | None,
    failover_strategy: FailoverStrategy,
    kombu_only: Mapping[str, object],
    explicit_arguments: Mapping[str, Any],
    *,
    confirm_publish: bool,
    on_blocked: Callable[[str], object] | None,
    on_unblocked: Callable[[], object] | None,
    blocked_connection_timeout: float | Unset | None,
    rpc_timeout: float | Unset,
    report_blocked: Callable[[str], None],
    report_unblocked: Callable[[], None],
) -> Settings:
    """Check ``Connection``'s arguments and resolve them against the URLs.

    ``kombu_only`` are kombu's arguments that only take one value,
    ``explicit_arguments`` those that win over every URL's value.  The
    hosts report a blocked connection to ``report_blocked`` and
    ``report_unblocked``.

    Raises:
        InvalidURL: a URL is malformed.
        UnknownTransport: a scheme or ``transport`` names no transport.
        ConfigurationError: any other bad argument.
    """
    check_kombu_only(**kombu_only)
    explicit = check_explicit(**explicit_arguments)
    urls = split_hosts(hostname) + split_hosts(alternates or ())
    if not urls:
        raise ConfigurationError("hostname must name at least one broker")
    if not isinstance(transport, str | None) and not callable(
        getattr(transport, "connect", None)
    ):
        raise ConfigurationError(
            f"transport must be a transport name or a transport "
            f"instance, not {type(transport).__name__}"
        )
    parsed = [parse_host(url, transport) for url in urls]
    chosen = _make_transport(transport, parsed[0])
    options = check_transport_options(chosen, transport_options)
    timeout = options.get("confirm_timeout", DEFAULT_CONFIRM_TIMEOUT)
    confirm_timeout = seconds("confirm_timeout", timeout)
    blocked = BlockedOptions.resolve(
        options,
        on_blocked,
        on_unblocked,
        blocked_connection_timeout,
        DEFAULT_BLOCKED_TIMEOUT,
    )
    rpc = rpc_timeout_option(options, rpc_timeout)
    hosts = [
        build_params(
            url,
            explicit,
            chosen,
            options,
            blocked_connection_timeout=blocked.timeout,
            rpc_timeout=rpc,
            on_blocked=report_blocked,
            on_unblocked=report_unblocked,
        )
        for url in parsed
    ]
    return Settings(
        transport=chosen,
        transport_cls=(
            transport
            if isinstance(transport, str)
            else parsed[0].transport
            if transport is None
            else type(transport)
        ),
        transport_options=options,
        explicit=explicit,
        confirm_publish=bool(confirm_publish or options.get("confirm_publish")),
        confirm_timeout=confirm_timeout,
        blocked=blocked,
        rpc_timeout=rpc,
        urls=urls,
        hosts=hosts,
        failover_strategy=check_failover_strategy(failover_strategy),
    )


def _make_transport(transport: str | Transport | None, url: URL) -> Transport:
    if transport is None:
        return resolve_transport(url.transport)
    if isinstance(transport, str):
        return resolve_transport(transport)
    return transport


class Configured(Protocol):
    """The settings of a ``Connection`` that describe and clone it."""

    transport: Transport
    transport_cls: str | type
    transport_options: dict[str, object]
    failover_strategy: FailoverStrategy
    confirm_publish: bool
    on_blocked: Callable[[str], object] | None
    on_unblocked: Callable[[], object] | None
    blocked_connection_timeout: float | None
    rpc_timeout: float

    @property
    def alt(self) -> list[str]:
        """All broker URLs, passwords masked."""
        ...


def uri_of(
    transport: Transport,
    params: ConnectionParameters,
    include_password: bool = False,
    mask: str = "**",
) -> str:
    """The URL of the host ``params`` describe; see ``Connection.as_uri``."""
    scheme = transport.name
    if scheme == "amqp" and params.ssl:
        scheme = "amqps"
    return format_url(
        scheme,
        params.hostname,
        params.port,
        params.userid,
        params.password,
        params.virtual_host,
        include_password=include_password,
        mask=mask,
    )


_INFO_TRANSPORT = {
    "amqp": "amqp",
    "pyamqp": "amqp",
    "amqps": "amqps",
    "memory": "memory",
}


def info_of(connection: Configured, params: ConnectionParameters) -> dict[str, object]:
    """``Connection.info()``: kombu's keys, the password always ``'**'``."""
    return {
        "hostname": params.hostname,
        "userid": params.userid,
        "password": "**",
        "virtual_host": params.virtual_host,
        "port": params.port,
        "insist": False,
        "ssl": params.ssl,
        # kombu resolves the 'pyamqp' alias to 'amqp' here.
        "transport": _INFO_TRANSPORT.get(
            str(connection.transport_cls), connection.transport.name
        ),
        "connect_timeout": params.connect_timeout,
        "transport_options": dict(connection.transport_options),
        "login_method": params.login_method,
        "uri_prefix": None,
        "heartbeat": params.heartbeat,
        "failover_strategy": connection.failover_strategy,
        # kombu lists the URLs only when there is more than one.
        "alternates": connection.alt if len(connection.alt) > 1 else [],
        "credential_provider": None,
    }


def clone_arguments(
    connection: Configured,
    explicit: ExplicitSettings,
    urls: Sequence[str],
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``Connection`` arguments of a clone; ``overrides`` win."""
    arguments: dict[str, Any] = {
        "hostname": list(urls),
        "userid": explicit.userid,
        "password": explicit.password,
        "virtual_host": explicit.virtual_host,
        "port": explicit.port,
        "ssl": explicit.ssl,
        "transport": connection.transport,
        "connect_timeout": explicit.connect_timeout,
        "heartbeat": explicit.heartbeat,
        "transport_options": dict(connection.transport_options),
        "login_method": explicit.login_method,
        "failover_strategy": connection.failover_strategy,
        "confirm_publish": connection.confirm_publish,
        "on_blocked": connection.on_blocked,
        "on_unblocked": connection.on_unblocked,
        "blocked_connection_timeout": connection.blocked_connection_timeout,
        "rpc_timeout": connection.rpc_timeout,
    }
    arguments.update(overrides)
    return arguments


def retry_defaults(transport_options: Mapping[str, object]) -> RetryPolicy:
    """``Connection.default_retry_policy``: the options' kombu retry keys applied.

    The keys are :data:`~kombu_lite.connection.params.RETRY_POLICY_OPTIONS`;
    the others keep :data:`~kombu_lite.retry.DEFAULT_PUBLISH_RETRY_POLICY`'s
    values.

    Raises:
        ConfigurationError: a retry key has a bad value.
    """
    return RetryPolicy.from_mapping(
        {
            key: value
            for key, value in transport_options.items()
            if key in RETRY_POLICY_OPTIONS
        },
        DEFAULT_PUBLISH_RETRY_POLICY,
    )


def as_uri(self: Connection, include_password: bool = False, mask: str = "**") -> str:
    """Return the current broker's URL, with the password masked.

    Only ``include_password=True`` puts the password in clear (and
    calls a callable ``password``, as kombu does).
    """
    params = self._params
    if include_password and self._hosts.password_provider is not None:
        params = replace(params, password=self._hosts.password())
    return uri_of(self.transport, params, include_password, mask)


def info(self: Connection) -> dict[str, object]:
    """The current broker's settings as a dict, with kombu's keys.

    Unlike kombu's ``info()``, the ``'password'`` value is always
    ``'**'``: read :attr:`~kombu_lite.Connection.password` for the real one.
    """
    return info_of(self, self._params)
