"""How a Connection's arguments become per-host :class:`ConnectionParameters`.

Everything here runs in ``Connection.__init__``, before any I/O: the
keyword arguments are checked, URLs are parsed, TLS options read from the
query string, transport options checked against what the transport knows
(an unknown key raises instead of being ignored), and the connection-level
options (confirms, blocked connections) validated.
"""

from __future__ import annotations

import contextlib
import enum
import math
import ssl as _ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from kombu_lite.connection.url import URL, parse_url, split_failover
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.exceptions._arguments import check_keywords
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
    "DEFAULT_RPC_TIMEOUT",
    "RETRY_OPTIONS",
    "RETRY_POLICY_OPTIONS",
    "UNSET",
    "ExplicitSettings",
    "Password",
    "SSLOption",
    "Unset",
    "build_params",
    "callback_option",
    "check_explicit",
    "check_kombu_only",
    "check_transport_options",
    "check_unknown_keywords",
    "parse_host",
    "rpc_timeout_option",
    "seconds",
    "split_hosts",
]

DEFAULT_CONNECT_TIMEOUT = 4.0
DEFAULT_HEARTBEAT = 60.0
DEFAULT_CONFIRM_TIMEOUT = 30.0
DEFAULT_BLOCKED_TIMEOUT = 60.0
#: The longest wait a timeout may ask for: the most a lock, a socket or
#: py-amqp's timers take (a longer one overflows deep inside a connect or
#: a confirm wait, after the message was sent).  About 292 years.
_LONGEST_WAIT: Final = threading.TIMEOUT_MAX
DEFAULT_RPC_TIMEOUT = 30.0

#: kombu's retry keys that a Connection accepts in ``transport_options``:
#: they set the default retry policy of ``ensure_connection`` and of
#: ``publish(retry=True)`` (see ``Connection.default_retry_policy``).  They
#: never add a hidden reconnect loop: an implicit connect tries each host
#: once.
RETRY_POLICY_OPTIONS = frozenset(
    {"max_retries", "interval_start", "interval_step", "interval_max"}
)

#: kombu's other connect-retry keys.  kombu reads them for the reconnect
#: loop it runs inside ``default_channel``; kombu_lite has no such hidden
#: loop, so they are refused rather than accepted and ignored.
RETRY_OPTIONS = frozenset({"connect_retries_timeout", "errback", "callback"})

#: Transport option keys that configure the Connection itself; they are
#: never passed down to the transport.
CONNECTION_OPTIONS = frozenset(
    {
        "confirm_publish",
        "confirm_timeout",
        "blocked_connection_timeout",
        "rpc_timeout",
        "on_blocked",
        "on_unblocked",
    }
    | RETRY_POLICY_OPTIONS
)


SSLOption = bool | Mapping[str, object] | _ssl.SSLContext

#: A password, or a callable returning one, called at every connect (how
#: OAuth2 token refresh works with RabbitMQ; kombu 5.7).
Password = str | Callable[[], str]


class Unset(enum.Enum):
    """The type of :data:`UNSET`: an argument the caller did not pass."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Default of the arguments whose every value means something (``ssl=False``
#: turns TLS off even for ``amqps://``; ``connect_timeout=None`` waits without
#: limit), so "not given, take the URL's" needs a value of its own.
UNSET: Final = Unset.UNSET

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

    ``None`` (``UNSET`` for ``ssl`` and ``connect_timeout``) means "take it
    from the URL, else the default".  Build it with :func:`check_explicit`.
    """

    userid: str | None = None
    password: Password | None = field(default=None, repr=False)
    virtual_host: str | None = None
    port: int | None = None
    ssl: SSLOption | Unset = UNSET
    connect_timeout: float | Unset | None = UNSET
    heartbeat: float | None = None
    login_method: str | None = None


def check_explicit(
    *,
    userid: object,
    password: object,
    virtual_host: object,
    port: object,
    ssl: object,
    connect_timeout: object,
    heartbeat: object,
    login_method: object,
) -> ExplicitSettings:
    """Check the ``Connection`` keyword arguments and return them as settings.

    kombu-style code often reads numbers from the environment, so a port
    given as a decimal string and timeouts given as numeric strings are
    converted; anything else of the wrong type raises.

    ``ssl=None`` is kombu's default: not given, so no TLS unless the URL
    asks for it (``amqps://``, ``ssl_*`` query options; kombu uses TLS
    for ``amqps://`` whatever ``ssl`` says).  A callable ``password`` is
    kept and called at every connect.

    Raises:
        ConfigurationError: naming the argument (never showing a password).
    """
    if (
        password is not None
        and not isinstance(password, str)
        and not callable(password)
    ):
        raise ConfigurationError(
            f"password must be a str or a callable returning one, "
            f"not {type(password).__name__}"
        )
    if ssl is None:
        ssl = UNSET
    if ssl is not UNSET and not isinstance(ssl, bool | Mapping | _ssl.SSLContext):
        raise ConfigurationError(
            f"ssl must be True, False, None, a dict of TLS options or an "
            f"ssl.SSLContext, not {type(ssl).__name__}"
        )
    login = _optional_str("login_method", login_method)
    if login == "":
        raise ConfigurationError("login_method must not be empty")
    return ExplicitSettings(
        userid=_optional_str("userid", userid) or None,
        password=password or None,
        virtual_host=_optional_str("virtual_host", virtual_host),
        port=_port(port),
        ssl=ssl,
        connect_timeout=(
            connect_timeout
            if connect_timeout is UNSET or connect_timeout is None
            else _number("connect_timeout", connect_timeout, zero_allowed=False)
        ),
        heartbeat=(
            None
            if heartbeat is None
            else _number("heartbeat", heartbeat, zero_allowed=True)
        ),
        login_method=login,
    )


def check_kombu_only(
    *, insist: object, uri_prefix: object, credential_provider: object
) -> None:
    """Refuse kombu arguments that mean nothing here, unless left at the default.

    They are accepted so that kombu code ports by changing the import; a
    value that would change kombu's behaviour raises instead of being
    ignored.

    Raises:
        ConfigurationError: naming the argument and why it has no effect.
    """
    if insist is not False:
        raise ConfigurationError(
            f"insist={insist!r} is not supported: AMQP 0-9-1 brokers ignore "
            f"it (RabbitMQ never redirects); leave it False"
        )
    if uri_prefix is not None:
        raise ConfigurationError(
            f"uri_prefix={uri_prefix!r} is not supported: kombu uses it for "
            f"the SQLAlchemy transport's 'sqla+' URLs; kombu_lite has no such "
            f"transport"
        )
    if credential_provider is not None:
        raise ConfigurationError(
            "credential_provider is not supported: kombu uses it for the Redis "
            "transport only; pass userid and password"
        )


def check_unknown_keywords(kwargs: Mapping[str, object], known: Sequence[str]) -> None:
    """Raise for the first keyword in ``kwargs``, suggesting a known one.

    Raises:
        UnknownArgument: naming the keyword (kombu would ignore it).
    """
    check_keywords("Connection", kwargs, known)


def _optional_str(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigurationError(f"{name} must be a str, not {type(value).__name__}")


def _port(value: object) -> int | None:
    if value is None:
        return None
    port: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif (
        isinstance(value, str) and (text := value.strip()).isascii() and text.isdigit()
    ):
        # ASCII only: int() reads other scripts' digits too ('٣' is 3).
        port = int(text)
    if port is None or not 0 < port < 65536:
        raise ConfigurationError(
            f"port must be a number from 1 to 65535, not {value!r}"
        )
    return port


def _number(name: str, value: object, *, zero_allowed: bool) -> float:
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if number <= _LONGEST_WAIT and (number > 0 or (zero_allowed and number == 0)):
        return number
    bound: Literal[">=", ">"] = ">=" if zero_allowed else ">"
    raise ConfigurationError(
        f"{name} must be a number of seconds {bound} 0 and at most "
        f"{_LONGEST_WAIT:.0f}, not {value!r}"
    )


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
    transport: Transport, transport_options: object
) -> dict[str, object]:
    """Return a copy of ``transport_options`` after checking every key.

    Raises:
        ConfigurationError: the options are not a mapping, or a key is one
            of kombu's retry keys (:data:`RETRY_OPTIONS`) or is unknown to
            both the transport and the Connection.
    """
    if transport_options is None:
        return {}
    if not isinstance(transport_options, Mapping):
        raise ConfigurationError(
            f"transport_options must be a dict, not {type(transport_options).__name__}"
        )
    allowed = transport.options | CONNECTION_OPTIONS
    for key in transport_options:
        if key in RETRY_OPTIONS:
            raise ConfigurationError(
                f"transport option {key!r} is not supported: kombu_lite never "
                f"retries a connect behind your back; pass a retry_policy to "
                f"publish(retry=True) or call Connection.ensure_connection("
                f"{key}=...); max_retries, interval_start, interval_step and "
                f"interval_max set their defaults"
            )
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigurationError(
                f"unknown transport option {key!r} for the "
                f"{transport.name!r} transport; known options: {known}"
            )
    return dict(transport_options)


def build_params(
    url: URL,
    explicit: ExplicitSettings,
    transport: Transport,
    transport_options: Mapping[str, object],
    *,
    blocked_connection_timeout: float | None,
    rpc_timeout: float = DEFAULT_RPC_TIMEOUT,
    on_blocked: Callable[[str], None],
    on_unblocked: Callable[[], None],
) -> ConnectionParameters:
    """Return what the transport needs to connect to the host of ``url``."""
    scheme = url.transport
    if scheme not in TRANSPORT_ALIASES:
        resolve_transport(scheme)  # raises UnknownTransport with the list
    ssl_opt = explicit.ssl
    if ssl_opt is UNSET:
        ssl_opt = _ssl_from_query(url) or scheme == "amqps"
    default_port = 5671 if ssl_opt else transport.default_port
    timeout: Any = explicit.connect_timeout
    if timeout is UNSET:
        timeout = url.query.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    heartbeat: Any = explicit.heartbeat
    if heartbeat is None:
        heartbeat = url.query.get("heartbeat", DEFAULT_HEARTBEAT)
    login = explicit.login_method or url.query.get("login_method")
    # A callable password is called at each connect (Hosts.connect).
    password = explicit.password if isinstance(explicit.password, str) else None
    return ConnectionParameters(
        hostname=url.hostname or "localhost",
        port=explicit.port or url.port or default_port,
        # An empty user name or password means the default, as in kombu
        # ('amqp://:@/' is guest:guest@localhost).
        userid=_first(explicit.userid, url.userid or None, "guest"),
        password=_first(password, url.password or None, "guest"),
        virtual_host=_first(explicit.virtual_host, url.virtual_host, "/"),
        ssl=ssl_opt,
        connect_timeout=None if timeout is None else float(timeout),
        heartbeat=float(heartbeat or 0.0),
        login_method=str(login) if login else None,
        blocked_connection_timeout=blocked_connection_timeout,
        rpc_timeout=rpc_timeout,
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
    """Return ``value`` as a number of seconds > 0, or raise naming ``name``.

    NaN, infinities and waits longer than a lock or a socket can take
    (:data:`threading.TIMEOUT_MAX`) are refused too.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= _LONGEST_WAIT
    ):
        raise ConfigurationError(
            f"{name} must be a number of seconds > 0 and at most "
            f"{_LONGEST_WAIT:.0f}, not {value!r}"
        )
    return float(value)


def rpc_timeout_option(options: Mapping[str, object], argument: object) -> float:
    """The ``rpc_timeout``: the argument if given, else the transport option.

    Raises:
        ConfigurationError: not a finite number of seconds > 0 (NaN,
            infinity, zero, a negative number, a bool).
    """
    value = (
        options.get("rpc_timeout", DEFAULT_RPC_TIMEOUT)
        if argument is UNSET
        else argument
    )
    return _number("rpc_timeout", value, zero_allowed=False)


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
