"""Broker URLs: parse ``amqp://user:pass@host:port/vhost?opts``, mask passwords.

Rules (RabbitMQ's URI spec, with kombu's vhost conventions so ported URLs
mean the same thing):

* user, password and vhost are percent-decoded;
* ``amqp://host`` and ``amqp://host/`` mean vhost ``/`` (kombu), as do
  ``amqp://host//`` and ``amqp://host/%2F``; ``amqp://host/foo`` is ``foo``;
* ``amqp://h1;amqp://h2`` is a failover list.

No error raised here ever contains the password: texts quote the URL only
through :func:`mask_url`, which cuts the user info at the *last* ``@`` so an
unencoded ``#``, ``?``, ``/`` or ``@`` in a password cannot leak, and masks
what stands in place of a port in a URL without ``@`` (a password whose
``@host`` was left out).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from kombu_lite.exceptions import InvalidURL

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["URL", "format_url", "mask_url", "parse_url", "split_failover"]

#: Query keys a URL may carry, and the type each is converted to.
_QUERY_KEYS: Mapping[str, type] = MappingProxyType(
    {
        "heartbeat": float,
        "connect_timeout": float,
        "login_method": str,
        "ssl_cert_reqs": str,
        "ssl_ca_certs": str,
        "ssl_certfile": str,
        "ssl_keyfile": str,
        "ssl_check_hostname": str,
        "ssl_server_hostname": str,
    }
)


@dataclass(frozen=True, slots=True)
class URL:
    """The parts of one broker URL; ``None`` means "not given in the URL"."""

    transport: str
    hostname: str | None = None
    port: int | None = None
    userid: str | None = None
    password: str | None = field(default=None, repr=False)
    virtual_host: str | None = None
    query: Mapping[str, object] = field(default_factory=dict)

    # kombu's parse_url returns a dict of these parts and the query options:
    # kombu code reads ``parts["hostname"]`` or calls ``dict(parts)``.

    def keys(self) -> list[str]:
        """kombu's keys: the parts, then the query options."""
        return [*_PART_NAMES, *self.query]

    def __getitem__(self, key: str) -> object:
        """``url["hostname"]``: a part, or a query option, by kombu's key.

        Raises:
            KeyError: no such part or option.
        """
        if key in _PART_NAMES:
            return getattr(self, key)
        return self.query[key]

    def get(self, key: str, default: object = None) -> object:
        """``url.get("port")``: as ``url[key]``, ``default`` when absent."""
        try:
            return self[key]
        except KeyError:
            return default


_PART_NAMES = ("transport", "hostname", "port", "userid", "password", "virtual_host")


def split_failover(text: str) -> list[str]:
    """Split ``'amqp://h1;amqp://h2'`` into its URLs (blank parts dropped)."""
    return [part.strip() for part in text.split(";") if part.strip()]


def mask_url(text: str, mask: str = "**") -> str:
    """Return ``text`` with any password replaced by ``mask``.

    Safe on malformed input: everything between ``://`` and the last ``@``
    is treated as user info, so a password with unencoded delimiters is
    still hidden.  Without an ``@``, whatever follows a ``:`` in the host
    part and is not a valid port may be a password whose ``@host`` was
    left out (``amqp://guest:secret``): it is masked, and the rest of the
    URL, where the password may go on, is left out.
    """
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    prefix = f"{scheme}://" if sep else ""
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        hidden = f"{user}:{mask}" if colon else user
        return f"{prefix}{hidden}@{rest[at + 1 :]}"
    hostport = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return f"{prefix}[{mask}"
        host, port_text = hostport[: end + 1], hostport[end + 1 :]
        if port_text and not port_text.startswith(":"):
            return f"{prefix}{host}{mask}"
        port_text = port_text[1:]
    else:
        host, _colon, port_text = hostport.partition(":")
    if not port_text or _port_number(port_text) is not None:
        return text
    return f"{prefix}{host}:{mask}"


def _port_number(text: str) -> int | None:
    """The port ``text`` names, or None.

    Only ASCII digits count: ``int()`` also reads other scripts' digits
    (``'٣'`` is 3), and ``str.isdigit`` accepts ``'²'``, which ``int()``
    refuses.
    """
    if text.isascii() and text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


def _fail(text: str, problem: str) -> InvalidURL:
    return InvalidURL(f"invalid broker URL {mask_url(text)!r}: {problem}")


def parse_url(text: str) -> URL:
    """Parse one broker URL.

    Raises:
        InvalidURL: the URL is malformed; the message never shows the
            password.
    """
    if not isinstance(text, str):
        raise InvalidURL(f"a broker URL must be a str, not {type(text).__name__}")
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise _fail(text, "expected 'scheme://...', for example 'amqp://localhost//'")
    scheme = scheme.lower()
    # The user info ends at the last '@' of the whole URL, so a password
    # with an unencoded '#', '?' or '/' is found (and refused) as a whole.
    at = rest.rfind("@")
    userinfo: str | None = None
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        if any(ch in userinfo for ch in "/?#"):
            raise _fail(
                text,
                "the user info contains an unencoded '/', '?' or '#'; "
                "percent-encode the user name and password",
            )
    rest, _hash, _fragment = rest.partition("#")
    hostport, slash, path_query = rest.partition("/")
    if not slash:
        hostport, _q, query_text = rest.partition("?")
        path = ""
    else:
        path, _q, query_text = path_query.partition("?")
    hostname, port = _split_hostport(text, hostport)
    userid = password = None
    if userinfo is not None:
        user_raw, colon, pass_raw = userinfo.partition(":")
        userid = unquote(user_raw)
        password = unquote(pass_raw) if colon else None
    return URL(
        transport=scheme,
        hostname=hostname,
        port=port,
        userid=userid,
        password=password,
        virtual_host=unquote(path) if path else ("/" if slash else None),
        query=_parse_query(text, query_text),
    )


def _split_hostport(text: str, hostport: str) -> tuple[str | None, int | None]:
    if hostport.startswith("["):  # an IPv6 literal: [::1]:5672
        end = hostport.find("]")
        if end < 0:
            raise _fail(text, "unterminated '[' in an IPv6 host")
        host, port_text = hostport[1:end], hostport[end + 1 :].removeprefix(":")
    else:
        host, _colon, port_text = hostport.partition(":")
    port: int | None = None
    if port_text:
        # The port text is never echoed (mask_url hides it): in a
        # malformed URL it may be a password.
        port = _port_number(port_text)
        if port is None:
            problem = "the port must be a number from 1 to 65535"
            if "@" not in text:
                problem += (
                    "; a user name and password go before an '@': "
                    "'scheme://user:password@host'"
                )
            raise _fail(text, problem)
    return (unquote(host) or None), port


def _parse_query(text: str, query_text: str) -> Mapping[str, object]:
    options: dict[str, object] = {}
    for item in filter(None, query_text.split("&")):
        key, _eq, value = item.partition("=")
        key = unquote(key)
        kind = _QUERY_KEYS.get(key)
        if kind is None:
            known = ", ".join(sorted(_QUERY_KEYS))
            raise _fail(text, f"unknown query option {key!r}; known options: {known}")
        value = unquote(value)
        if kind is float:
            options[key] = _seconds(text, key, value)
        else:
            options[key] = value
    return options


#: The smallest value each numeric query option may take, and whether the
#: bound itself is allowed (``heartbeat=0`` turns heartbeats off; a connect
#: timeout of 0 would fail every connect).
_MINIMUM = MappingProxyType({"heartbeat": (0.0, True), "connect_timeout": (0.0, False)})


def _seconds(text: str, key: str, value: str) -> float:
    low, inclusive = _MINIMUM[key]
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    # NaN fails every comparison; TIMEOUT_MAX is the longest wait a socket
    # or a lock takes (a longer connect_timeout overflows in the connect).
    if number <= threading.TIMEOUT_MAX and (
        number > low or (inclusive and number == low)
    ):
        return number
    bound = ">=" if inclusive else ">"
    raise _fail(
        text,
        f"query option {key!r} must be a number of seconds {bound} 0 and at "
        f"most {threading.TIMEOUT_MAX:.0f}",
    )


def format_url(
    transport: str,
    hostname: str,
    port: int,
    userid: str | None,
    password: str | None,
    virtual_host: str,
    *,
    include_password: bool = False,
    mask: str = "**",
) -> str:
    """Build a URL back from its parts; the password is masked by default."""
    if transport == "memory":
        vhost = "" if virtual_host == "/" else "/" + quote(virtual_host, safe="")
        return f"memory://{vhost}"
    auth = ""
    if userid is not None:
        auth = quote(userid, safe="")
        if password is not None:
            shown = quote(password, safe="") if include_password else mask
            auth += f":{shown}"
        auth += "@"
    host = f"[{hostname}]" if ":" in hostname else hostname
    return f"{transport}://{auth}{host}:{port}/{quote(virtual_host, safe='/')}"
