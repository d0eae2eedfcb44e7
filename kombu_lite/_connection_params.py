"""How a Connection's arguments become per-host :class:`ConnectionParameters`.

Everything here runs in ``Connection.__init__``, before any I/O: URLs are
parsed, TLS options read from the query string, transport options checked
against what the transport knows (an unknown key raises instead of being
ignored), and the connection-level options (confirms, blocked connections)
validated.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kombu_lite._url import URL, parse_url, split_failover
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.transport import TRANSPORT_ALIASES, resolve_transport
from kombu_lite.transport.base import ConnectionParameters

if TYPE_CHECKING:
    from kombu_lite.transport.base import Transport

__all__ = [
    "CONNECTION_OPTIONS",
    "DEFAULT_BLOCKED_TIMEOUT",
    "DEFAULT_CONFIRM_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_HEARTBEAT",
    "ExplicitSettings",
    "SSLOption",
    "build_params",
    "callback_option",
    "check_transport_options",
    "parse_host",
    "seconds",
    "split_hosts",
]

DEFAULT_CONNECT_TIMEOUT = 4.0
DEFAULT_HEARTBEAT = 60.0
DEFAULT_CONFIRM_TIMEOUT = 30.0
DEFAULT_BLOCKED_TIMEOUT = 60.0

#: Transport option keys that configure the Connection itself; they are
#: never passed down to the transport.
CONNECTION_OPTIONS = frozenset(
    {
        "max_retries",
        "interval_start",
        "interval_step",
        "confirm_publish",
        "confirm_timeout",
        "blocked_connection_timeout",
        "on_blocked",
        "on_unblocked",
    }
)

SSLOption = bool | Mapping[str, object] | _ssl.SSLContext

_SSL_QUERY_KEYS = {
    "ssl_ca_certs": "ca_certs",
    "ssl_certfile": "certfile",
    "ssl_keyfile": "keyfile",
    "ssl_cert_reqs": "cert_reqs",
    "ssl_check_hostname": "check_hostname",
    "ssl_server_hostname": "server_hostname",
}
_CERT_REQS = {
    "required": _ssl.CERT_REQUIRED,
    "cert_required": _ssl.CERT_REQUIRED,
    "optional": _ssl.CERT_OPTIONAL,
    "cert_optional": _ssl.CERT_OPTIONAL,
    "none": _ssl.CERT_NONE,
    "cert_none": _ssl.CERT_NONE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplicitSettings:
    """Settings given as ``Connection`` arguments; they win over every URL's.

    ``None`` (and ``ssl=False``) means "take it from the URL, else the
    default".
    """

    userid: str | None = None
    password: str | None = field(default=None, repr=False)
    virtual_host: str | None = None
    port: int | None = None
    ssl: SSLOption = False
    connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT
    heartbeat: float | None = None
    login_method: str | None = None


def split_hosts(hostname: str | Sequence[str]) -> list[str]:
    """Return the URLs in ``hostname``: a ``;``-separated list, or a list."""
    if isinstance(hostname, str):
        return split_failover(hostname)
    urls: list[str] = []
    for item in hostname:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"hostname list items must be str, not {type(item).__name__}"
            )
        urls.extend(split_failover(item))
    return urls


def parse_host(text: str, transport: str | Transport | None) -> URL:
    """Parse a URL, or a bare host name under the transport's scheme."""
    if "://" in text:
        return parse_url(text)
    default = transport if isinstance(transport, str) else "amqp"
    return parse_url(f"{default}://{text}")


def check_transport_options(
    transport: Transport, transport_options: Mapping[str, object]
) -> None:
    """Raise for a key that neither the transport nor the Connection knows."""
    allowed = transport.options | CONNECTION_OPTIONS
    for key in transport_options:
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigurationError(
                f"unknown transport option {key!r} for the "
                f"{transport.name!r} transport; known options: {known}"
            )


def build_params(
    url: URL,
    explicit: ExplicitSettings,
    transport: Transport,
    transport_options: Mapping[str, object],
    *,
    blocked_connection_timeout: float | None,
    on_blocked: Callable[[str], None],
    on_unblocked: Callable[[], None],
) -> ConnectionParameters:
    """Return what the transport needs to connect to the host of ``url``."""
    scheme = url.transport
    if scheme not in TRANSPORT_ALIASES:
        resolve_transport(scheme)  # raises UnknownTransport with the list
    ssl_opt: SSLOption = explicit.ssl
    if ssl_opt is False:
        ssl_opt = _ssl_from_query(url) or scheme == "amqps"
    default_port = 5671 if ssl_opt else transport.default_port
    timeout: Any = explicit.connect_timeout
    if timeout == DEFAULT_CONNECT_TIMEOUT and "connect_timeout" in url.query:
        timeout = url.query["connect_timeout"]
    heartbeat: Any = explicit.heartbeat
    if heartbeat is None:
        heartbeat = url.query.get("heartbeat", DEFAULT_HEARTBEAT)
    login = explicit.login_method or url.query.get("login_method")
    return ConnectionParameters(
        hostname=url.hostname or "localhost",
        port=explicit.port or url.port or default_port,
        userid=_first(explicit.userid, url.userid, "guest"),
        password=_first(explicit.password, url.password, "guest"),
        virtual_host=_first(explicit.virtual_host, url.virtual_host, "/"),
        ssl=ssl_opt,
        connect_timeout=None if timeout is None else float(timeout),
        heartbeat=float(heartbeat or 0.0),
        login_method=str(login) if login else None,
        blocked_connection_timeout=blocked_connection_timeout,
        on_blocked=on_blocked,
        on_unblocked=on_unblocked,
        transport_options=MappingProxyType(
            {k: v for k, v in transport_options.items() if k not in CONNECTION_OPTIONS}
        ),
    )


def _ssl_from_query(url: URL) -> dict[str, object] | None:
    options: dict[str, object] = {}
    for key, name in _SSL_QUERY_KEYS.items():
        if key not in url.query:
            continue
        value = url.query[key]
        if name == "cert_reqs":
            mode = _CERT_REQS.get(str(value).lower())
            if mode is None:
                raise ConfigurationError(
                    f"ssl_cert_reqs must be required, optional or none, not {value!r}"
                )
            value = mode
        elif name == "check_hostname":
            value = str(value).lower() in ("1", "true", "yes", "on")
        options[name] = value
    return options or None


def seconds(name: str, value: object) -> float:
    """Return ``value`` as a number of seconds > 0, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(
            f"{name} must be a number of seconds > 0, not {value!r}"
        )
    return float(value)


def callback_option(options: Mapping[str, object], name: str) -> Any:
    """Return the callable transport option ``name`` (or None if unset)."""
    value = options.get(name)
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"transport option {name!r} must be callable, not {type(value).__name__}"
        )
    return value


def _first(*values: str | None) -> str:
    for value in values:
        if value is not None:
            return value
    raise AssertionError("the last value is a default")  # pragma: no cover
