"""TLS settings for the RabbitMQ transport: ``ssl=`` to an :class:`ssl.SSLContext`.

py-amqp's own ``ssl=True`` checks neither the certificate chain nor the host
name; kombu_lite always builds a context that checks both unless told not
to.
"""

from __future__ import annotations

import ssl as _ssl
from typing import TYPE_CHECKING, TypeVar

from kombu_lite.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["build_ssl_context"]

_T = TypeVar("_T")

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

    The files are read here, before any network I/O.

    Raises:
        ConfigurationError: an unknown key in the dict, or a file named by
            ``ca_certs``, ``certfile`` or ``keyfile`` that cannot be read or
            holds no usable PEM data (the message names the option and the
            path).
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
    if ca_certs is None:
        context = _ssl.create_default_context()
    else:
        cafile = str(ca_certs)
        _readable("ca_certs", cafile)
        context = _load(
            f"ssl option 'ca_certs': {cafile!r} holds no usable PEM certificate",
            lambda: _ssl.create_default_context(cafile=cafile),
        )
    certfile = options.get("certfile")
    keyfile = options.get("keyfile")
    if certfile is not None:
        chain = str(certfile)
        _readable("certfile", chain)
        if keyfile:
            key = str(keyfile)
            _readable("keyfile", key)
            problem = (
                f"ssl options 'certfile' and 'keyfile': {chain!r} and {key!r} "
                f"hold no matching PEM certificate and private key"
            )
        else:
            key = None
            problem = (
                f"ssl option 'certfile': {chain!r} holds no usable PEM "
                f"certificate and private key"
            )
        _load(problem, lambda: context.load_cert_chain(chain, key))
    elif keyfile:
        raise ConfigurationError(
            "ssl option 'keyfile' needs 'certfile' too (the certificate the "
            "key belongs to)"
        )
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


def _readable(option: str, path: str) -> None:
    # Opening the file first tells which option names a missing file: the
    # ssl module's own errors name neither the option nor the file.
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(
            f"ssl option {option!r}: cannot read {path!r}: {reason}"
        ) from exc


def _load(problem: str, load: Callable[[], _T]) -> _T:
    # The files were readable a moment ago: what fails now is their content
    # (or, rarely, a file removed in between).
    try:
        return load()
    except _ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise ConfigurationError(f"{problem} ({reason})") from exc
    except OSError as exc:
        raise ConfigurationError(f"{problem}: {exc.strerror or exc}") from exc
