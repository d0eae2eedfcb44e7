"""Copies and moves of a Connection: ``clone``, ``copy``, ``deepcopy``, ``switch``.

Each is a method of :class:`~kombu_lite.Connection` (kombu's names),
written here so the connection module keeps to the connection itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kombu_lite.connection.params import build_params, parse_host
from kombu_lite.connection.settings import clone_arguments
from kombu_lite.connection.url import format_url
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.transport import resolve_transport

if TYPE_CHECKING:
    from kombu_lite.connection import Connection

__all__ = ["clone", "copy", "deepcopy", "switch"]


def clone(self: Connection, **kwargs: Any) -> Connection:
    """Return a new, unconnected Connection with the same settings.

    The clone gets the same URLs and keyword arguments as this
    connection was built with (``kwargs`` override them), and shares
    its transport object, so a memory transport's private
    :class:`~kombu_lite.transport.memory.Broker` is kept, and its
    callables (a callable ``password``, ``on_blocked``...).
    """
    from kombu_lite.connection import Connection

    return Connection(**clone_arguments(self, self._explicit, self._hosts.urls, kwargs))


def copy(self: Connection) -> Connection:
    """``copy.copy(connection)``: a :meth:`clone`, not connected (as kombu)."""
    return self.clone()


def deepcopy(self: Connection, memo: dict[int, object]) -> Connection:
    """``copy.deepcopy(connection)``: a :meth:`clone`, not connected.

    As with kombu, the clone shares the callables and the transport object
    (so a memory transport's broker) of this connection.
    """
    del memo
    return self.clone()


def switch(self: Connection, conn_str: str) -> None:
    """Close the connection and move to another broker (kombu's method).

    ``conn_str`` is a URL, or a bare host name that keeps the current
    URL's other parts.  It replaces the current entry of the failover
    list; the keyword arguments given at construction still win over
    its parts.  Nothing is sent: the next use connects there.

    Raises:
        InvalidURL: the URL is malformed; nothing changed.
        UnknownTransport: its scheme names no transport.
        ConfigurationError: its scheme needs another transport.
    """
    if not isinstance(conn_str, str) or not conn_str.strip():
        raise ConfigurationError(
            f"switch() needs a URL or a host name, not {conn_str!r}"
        )
    if "://" in conn_str:
        url = parse_host(conn_str, None)
    else:
        url = replace(
            parse_host(self._hosts.urls[self._hosts.index], None),
            hostname=conn_str.strip(),
        )
    if resolve_transport(url.transport).name != self.transport.name:
        raise ConfigurationError(
            f"switch() cannot move a {self.transport.name!r} connection to "
            f"a {url.transport!r} URL; make a new Connection"
        )
    current = self._params
    params = build_params(
        url,
        self._explicit,
        self.transport,
        self.transport_options,
        blocked_connection_timeout=current.blocked_connection_timeout,
        rpc_timeout=current.rpc_timeout,
        on_blocked=self._report_blocked,
        on_unblocked=self._report_unblocked,
    )
    text = (
        conn_str
        if "://" in conn_str
        else format_url(
            url.transport,
            params.hostname,
            params.port,
            url.userid,
            url.password,
            url.virtual_host or "/",
            include_password=True,
        )
    )
    with self._lock:
        self._drop_wire()
        self._hosts.urls[self._hosts.index] = text
        self._hosts.params[self._hosts.index] = params
        if isinstance(url.transport, str) and isinstance(self.transport_cls, str):
            self.transport_cls = url.transport
