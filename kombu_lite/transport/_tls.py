"""TLS settings for the RabbitMQ transport: ``ssl=`` to an :class:`ssl.SSLContext`.

py-amqp's own ``ssl=True`` checks neither the certificate chain nor the host
name; kombu_lite always builds a context that checks both unless told not
to.
"""

from __future__ import annotations

import ssl as _ssl
from typing import TYPE_CHECKING

from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["build_ssl_context"]

_SSL_KEYS = frozenset(
    {
        "ca_certs",
        "certfile",
        "keyfile",
        "cert_reqs",
        "check_hostname",
        "server_hostname",
    }
)


def build_ssl_context(
    option: bool | Mapping[str, object] | _ssl.SSLContext, hostname: str
) -> tuple[_ssl.SSLContext, str]:
    """Return the TLS context and the server name to verify for ``ssl=``.

    ``True`` verifies the certificate chain against the system CAs and the
    host name.  A dict may set ``ca_certs``, ``certfile``, ``keyfile``,
    ``cert_reqs``, ``check_hostname`` and ``server_hostname``.

    Raises:
        ConfigurationError: an unknown key in the dict.
    """
    if isinstance(option, _ssl.SSLContext):
        return option, hostname
    options: Mapping[str, object] = option if not isinstance(option, bool) else {}
    unknown = sorted(set(options) - _SSL_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown ssl option {unknown[0]!r}; known options: "
            f"{', '.join(sorted(_SSL_KEYS))}"
        )
    ca_certs = options.get("ca_certs")
    context = _ssl.create_default_context(
        cafile=str(ca_certs) if ca_certs is not None else None
    )
    certfile = options.get("certfile")
    if certfile is not None:
        keyfile = options.get("keyfile")
        context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    cert_reqs = options.get("cert_reqs")
    check_hostname = options.get("check_hostname")
    if cert_reqs == _ssl.CERT_NONE:
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    elif cert_reqs == _ssl.CERT_OPTIONAL:
        context.verify_mode = _ssl.CERT_OPTIONAL
    if check_hostname is not None:
        context.check_hostname = bool(check_hostname)
    server_hostname = options.get("server_hostname")
    return context, str(server_hostname) if server_hostname else hostname
