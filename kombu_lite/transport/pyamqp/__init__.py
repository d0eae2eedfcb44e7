"""RabbitMQ over py-amqp: the only module that imports ``amqp``.

py-amqp is untyped, so its objects stay behind this module's own classes
and never appear in a signature; data leaves as the dataclasses of
:mod:`kombu_lite.transport.base`.  Every call into py-amqp goes through
:func:`_mapped`, the one place where py-amqp and socket errors become
kombu_lite errors.

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
from kombu_lite.transport.pyamqp.connection import PyAmqpConnection, PyAmqpTransport

__all__ = ["PyAmqpChannel", "PyAmqpConnection", "PyAmqpTransport"]
