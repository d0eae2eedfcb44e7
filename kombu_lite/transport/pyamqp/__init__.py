"""RabbitMQ over py-amqp: the only package that imports ``amqp``.

py-amqp is untyped, so its objects stay behind this package's own classes
and never appear in a signature; data leaves as the dataclasses of
:mod:`kombu_lite.transport.base`.  Every py-amqp and socket error becomes a
kombu_lite error by one table, :func:`._mapping.map_amqp_errors`.

The modules, top down: ``connect`` (:class:`PyAmqpTransport`, the connect
path) makes a ``connection`` (:class:`PyAmqpConnection`, with ``heartbeat``),
which opens a ``channel`` (:class:`PyAmqpChannel`, which knows its connection
only as ``contract.ChannelConnection``) made of ``publishing`` (with
``confirms``) and ``consuming``; under them ``reader`` (one thread reads for
all), ``framing`` (publish frames encoded once), ``_transport`` (sockets),
``_amqp_connection`` (py-amqp's Connection, adapted) and ``_mapping``.

Two py-amqp behaviours this adapter shields users from:

* after the broker closes a channel, py-amqp silently opens it again under
  the same number, so a later publish would "succeed" on a channel the
  application believes is still the old one.  The adapter remembers the
  error and raises :class:`~kombu_lite.exceptions.ChannelClosed` instead;
* py-amqp's ``ssl=True`` checks neither the certificate chain nor the host
  name.  The adapter always builds an :class:`ssl.SSLContext` that checks
  both unless told otherwise, and wraps the socket with it.
"""

from __future__ import annotations

from kombu_lite.transport.pyamqp.channel import PyAmqpChannel
from kombu_lite.transport.pyamqp.connect import PyAmqpTransport
from kombu_lite.transport.pyamqp.connection import PyAmqpConnection

__all__ = ["PyAmqpChannel", "PyAmqpConnection", "PyAmqpTransport"]
