"""Long-running workers: kombu's ``ConsumerMixin`` and ``ConsumerProducerMixin``.

A kombu worker ports by changing ``from kombu.mixins import ConsumerMixin``
to ``from kombu_lite.mixins import ConsumerMixin``: the attributes, the
hooks and their order are kombu's.  What a running worker does on each
kind of failure:

* **The connection is lost** (a broker stop, a cut, a forced close, missed
  heartbeats): :meth:`~ConsumerMixin.run` logs a WARNING naming the host
  (password masked) and the reason, opens a new connection (the next
  failover host answers at once; when none does, it sleeps by a bounded
  backoff with jitter, see ``reconnect_interval_*``), calls
  :meth:`~ConsumerMixin.get_consumers` again, so every queue is declared
  and consumed again with the same arguments (prefetch, ``no_ack``; the
  consumer tags change), and goes on.  Messages delivered but not acked on
  the dead connection are redelivered by the broker with
  ``redelivered=True``: a callback may see a message twice.
* **A channel is closed by the broker** (406 PRECONDITION_FAILED
  "delivery acknowledgement timed out" after ``consumer_timeout``, an ack
  of an unknown tag): the same as a lost connection.
* **The broker cancels a consumer** (``basic.cancel``: its queue was
  deleted, a quorum queue's leader moved): :meth:`~ConsumerMixin.on_cancel`
  declares the queue again (when its consumer declares its queues) and
  consumes it again; when that fails,
  :class:`~kombu_lite.exceptions.ConsumerCancelled` stops the worker.
* **The broker cannot be reached, or refuses us** while connecting: retried
  forever by default; ``connect_max_retries`` bounds it, and a refusal
  retrying cannot help (bad credentials, unknown virtual host) stops the
  worker with its error at once.

``should_stop = True``, set from a callback or another thread, stops
:meth:`~ConsumerMixin.run` within about ``safety_interval`` seconds (one
second by default), also while it waits to reconnect.
"""

from __future__ import annotations

import contextlib
import reprlib
import time
from functools import cached_property, partial
from itertools import count
from typing import TYPE_CHECKING, Any, TypeVar

from kombu_lite._log import get_logger
from kombu_lite.exceptions import ChannelClosed, ChannelError, ConsumerCancelled
from kombu_lite.messaging import Producer
from kombu_lite.messaging.consumer import Consumer
from kombu_lite.retry import backoff_jitter
from kombu_lite.utils.limits import TokenBucket

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from kombu_lite.channel import Channel
    from kombu_lite.connection import Connection
    from kombu_lite.entity import Queue
    from kombu_lite.message import Message

    #: What :meth:`ConsumerMixin.Consumer` yields: connection, channel, consumers.
    Consuming = tuple[Connection, Channel, list[Consumer]]

__all__ = ["ConsumerMixin", "ConsumerProducerMixin"]

logger = get_logger(__name__)

T = TypeVar("T")


class _StopRequested(Exception):
    """``should_stop`` was set while the mixin waited to reconnect."""


class ConsumerMixin:
    """A long-running consumer: set :attr:`connection`, write :meth:`get_consumers`.

    Example::

        class Worker(ConsumerMixin):
            def __init__(self, connection):
                self.connection = connection

            def get_consumers(self, Consumer, channel):
                return [Consumer(queues=[task_queue], callbacks=[self.on_task])]

            def on_task(self, body, message):
                handle(body)
                message.ack()

        Worker(Connection("amqp://")).run()

    :meth:`run` consumes until :attr:`should_stop` is set, reconnecting
    after every recoverable failure (see the module's docstring for what
    happens on each kind).  The hooks, in the order kombu calls them:
    :meth:`on_connection_error` (while connecting fails),
    :meth:`on_connection_revived`, :meth:`get_consumers`,
    :meth:`extra_context` (entered), :meth:`on_consume_ready`,
    :meth:`on_iteration` (before each wait for an event),
    :meth:`on_decode_error` (a body that cannot be decoded),
    :meth:`on_cancel` (the broker cancelled a consumer), and, after a
    normal end, :meth:`on_consume_end` (not after a failure, as in kombu).

    Each (re)connect uses a new clone of :attr:`connection`, closed when
    consuming ends; :attr:`connection` itself is never connected.
    """

    #: The broker to consume from; set it before :meth:`run`.
    connection: Connection
    #: Connect attempts retried at most this often per (re)connect (None:
    #: forever, as in kombu).  Running out stops :meth:`run` with the
    #: error (kombu's ``run`` would start over).
    connect_max_retries: int | None = None
    #: Set to True (from a callback or another thread) to make :meth:`run`
    #: and :meth:`consume` return.
    should_stop: bool = False
    #: The backoff between connect attempts when no host answers, in
    #: seconds: start, step and cap (kombu's ``ensure_connection`` values),
    #: each sleep then shortened by :meth:`reconnect_jitter`.
    reconnect_interval_start: float = 2
    reconnect_interval_step: float = 2
    reconnect_interval_max: float = 30

    # Set while a clone is connecting (None once connected): for the log,
    # and to tell a connect that gave up from a lost connection.
    _connecting: Connection | None = None
    # The clone consuming now (or last): the host a reconnect log names.
    _consuming: Connection | None = None

    # -- what a subclass writes --------------------------------------------------

    def get_consumers(
        self,
        Consumer: Callable[..., Consumer],  # noqa: N803 - kombu's argument name
        channel: Channel,
    ) -> Iterable[Consumer]:
        """Return the consumers to run, made with ``Consumer(queues, ...)``.

        ``Consumer`` is :class:`~kombu_lite.Consumer` with the channel (and
        ``on_decode_error``) filled in.  Called again after each reconnect.
        """
        raise NotImplementedError("Subclass responsibility: return a list of consumers")

    def on_connection_revived(self) -> None:
        """Called once a (re)connect succeeded, before the consumers are made."""

    def on_consume_ready(
        self,
        connection: Connection,
        channel: Channel,
        consumers: list[Consumer],
        **kwargs: Any,
    ) -> None:
        """Called when the consumers consume; ``kwargs`` are :meth:`consume`'s."""

    def on_consume_end(self, connection: Connection, channel: Channel) -> None:
        """Called after the consumers were cancelled (not after a failure)."""

    def on_iteration(self) -> None:
        """Called before each wait for an event."""

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        """A message body could not be decoded: log it and ack it (as kombu).

        The message is dropped: override (and settle the message yourself)
        to keep it, for example ``message.reject()`` to a dead-letter queue.
        """
        logger.error(
            "cannot decode message body: %r (type %r, encoding %r, raw %s); "
            "acknowledged and dropped",
            exc,
            message.content_type,
            message.content_encoding,
            reprlib.repr(message.body),
        )
        message.ack()

    def on_connection_error(self, exc: BaseException, interval: float) -> None:
        """Connecting failed; the next attempt is in ``interval`` seconds.

        The default logs a WARNING naming the host (password masked).
        """
        conn = self._connecting or self.connection
        others = " (and its failover hosts)" if len(conn.alt) > 1 else ""
        logger.warning(
            "cannot connect to %s%s (%s: %s); trying again in %.2f seconds",
            conn.as_uri(),
            others,
            type(exc).__name__,
            exc,
            interval,
        )

    def on_cancel(self, consumer: Consumer, queue: Queue) -> None:
        """The broker cancelled ``consumer``'s subscription to ``queue``.

        Runs inside ``drain_events``.  The default declares the queue again
        (with its exchange and bindings), unless the consumer does not
        declare its queues (``auto_declare=False``) or the queue is
        ``no_declare`` (a bare name), then consumes it again with the
        consumer's settings.  A consumer's own ``on_cancel`` replaces this.

        Raises:
            ConsumerCancelled: the broker refused the declare or the
                consume (the queue is gone and may not be re-created);
                :meth:`run` stops.
        """
        declare = consumer.auto_declare and not queue.no_declare
        logger.warning(
            "the broker cancelled the consumer of queue %r on %s; %s it again",
            queue.name,
            consumer.connection.as_uri(),
            "declaring and consuming" if declare else "consuming",
        )
        try:
            if declare:
                queue.declare(channel=consumer.channel)
            consumer.consume()
        except ChannelError as exc:
            raise ConsumerCancelled(
                f"the broker cancelled the consumer of queue {queue.name!r} and it "
                f"could not be {'declared and ' if declare else ''}consumed again: "
                f"{exc}",
                queue=queue.name,
            ) from exc

    @contextlib.contextmanager
    def extra_context(self, connection: Connection, channel: Channel) -> Iterator[None]:
        """A context entered once the consumers consume (nothing by default)."""
        del connection, channel
        yield

    def reconnect_jitter(self, interval: float) -> float:
        """The sleep before the next connect attempt, from the backoff's interval.

        The default picks 50 to 100 % of it at random, so that workers cut
        off together do not reconnect together.  Not in kombu.
        """
        return backoff_jitter(interval)

    # -- running ---------------------------------------------------------------

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        """Consume until :attr:`should_stop`, reconnecting after failures.

        At most one restart a second (:attr:`restart_limit`).  ``kwargs``
        go to :meth:`consume` (and on to :meth:`on_consume_ready`).

        Raises:
            ConsumerCancelled: a cancelled consumer could not resume.
            OperationalError: connecting failed and retrying cannot help
                (refused credentials, an unknown virtual host, a peer that
                is not AMQP), or ``connect_max_retries`` ran out.
            AccessRefused: the broker refused the login.
        """
        restart_limit = self.restart_limit
        errors = self.connection_errors + self.channel_errors
        while not self.should_stop:
            try:
                if restart_limit.can_consume(_tokens):
                    for _ in self.consume(limit=None, **kwargs):
                        pass
                else:
                    time.sleep(restart_limit.expected_time(_tokens))
            except errors as exc:
                if self._connecting is not None:
                    # ensure_connection gave up: retrying cannot help.
                    self._connecting = None
                    raise
                where = (self._consuming or self.connection).as_uri()
                logger.warning(
                    "consuming from %s failed (%s: %s); reconnecting",
                    where,
                    type(exc).__name__,
                    exc,
                )

    @contextlib.contextmanager
    def consumer_context(self, **kwargs: Any) -> Iterator[Consuming]:
        """Connect, make the consumers, enter :meth:`extra_context`, then yield.

        Yields ``(connection, channel, consumers)`` once
        :meth:`on_consume_ready` was called with ``kwargs``.
        """
        with self.Consumer() as (connection, channel, consumers):  # noqa: SIM117
            # Nested: extra_context needs what Consumer() yields.
            with self.extra_context(connection, channel):
                self.on_consume_ready(connection, channel, consumers, **kwargs)
                yield connection, channel, consumers

    def consume(
        self,
        limit: int | None = None,
        timeout: float | None = None,
        safety_interval: float = 1,
        **kwargs: Any,
    ) -> Iterator[None]:
        """Connect and consume; yield after each event handled.

        Each step waits at most ``safety_interval`` seconds for one event
        (a delivery, a cancel) and hands it out, so :attr:`should_stop` is
        seen at least that often.  ``limit`` bounds the number of steps,
        events or not (None or 0: no bound), as in kombu.  ``timeout``
        bounds the wait for the next event: with none for ``timeout``
        seconds, ``TimeoutError`` (``socket.timeout``) is raised, never
        later (kombu counts ``safety_interval`` steps and may overshoot).

        Raises:
            TimeoutError: no event for ``timeout`` seconds.
            OperationalError: the connection failed (:meth:`run` reconnects).
            ChannelError: the broker closed a consumer's channel, for
                example on a ``consumer_timeout`` (:meth:`run` reconnects).
        """
        try:
            with self.consumer_context(**kwargs) as (connection, _, consumers):
                yield from self._drain(
                    connection, consumers, limit, timeout, safety_interval
                )
        except _StopRequested:
            pass
        logger.debug("consume exiting")

    def _drain(
        self,
        connection: Connection,
        consumers: list[Consumer],
        limit: int | None,
        timeout: float | None,
        safety_interval: float,
    ) -> Iterator[None]:
        deadline = None if timeout is None else time.monotonic() + timeout
        for _ in range(limit) if limit else count():
            if self.should_stop:
                break
            self.on_iteration()
            wait = safety_interval
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            try:
                connection.drain_events(timeout=wait)
            except TimeoutError:
                _check_consuming(connection, consumers)
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            except (*self.connection_errors, *self.channel_errors):
                if self._stopping():
                    break  # failing while asked to stop: just stop
                raise
            _check_consuming(connection, consumers)
            yield
            if timeout is not None:
                deadline = time.monotonic() + timeout

    # -- connections and consumers ---------------------------------------------

    def maybe_conn_error(self, fun: Callable[[], T]) -> T | None:
        """Call ``fun``; return None if it raised a connection or channel error."""
        try:
            return fun()
        except (*self.connection_errors, *self.channel_errors):
            return None

    def create_connection(self) -> Connection:
        """A new, unconnected clone of :attr:`connection`."""
        return self.connection.clone()

    def _ensure_connected(self, conn: Connection) -> None:
        conn.ensure_connection(
            self.on_connection_error,
            self.connect_max_retries,
            interval_start=self.reconnect_interval_start,
            interval_step=self.reconnect_interval_step,
            interval_max=self.reconnect_interval_max,
            callback=self._stop_if_asked,
            jitter=self.reconnect_jitter,
        )

    def _stopping(self) -> bool:
        return self.should_stop  # read anew: a callback may have set it

    def _stop_if_asked(self) -> None:  # called each second of a backoff sleep
        if self.should_stop:
            raise _StopRequested

    def _consumer(self, channel: Channel, *args: Any, **kwargs: Any) -> Consumer:
        kwargs.setdefault("on_decode_error", self.on_decode_error)
        consumer = Consumer(channel, *args, **kwargs)
        if consumer.on_cancel is None:
            consumer.on_cancel = partial(self.on_cancel, consumer)
        return consumer

    @contextlib.contextmanager
    def _consume_from(self, *consumers: Consumer) -> Iterator[list[Consumer]]:
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(consumer) for consumer in consumers]

    @contextlib.contextmanager
    def establish_connection(self) -> Iterator[Connection]:
        """Yield a connected clone of :attr:`connection`; close it afterwards.

        Connects with ``ensure_connection(self.on_connection_error,
        self.connect_max_retries)``: each failover host once at first,
        then by the backoff.
        """
        with self.create_connection() as conn:
            self._connecting = conn
            self._ensure_connected(conn)
            self._connecting = None
            yield conn

    @contextlib.contextmanager
    def Consumer(self) -> Iterator[Consuming]:  # noqa: N802 - kombu's name
        """Connect, make the consumers and consume; yield what consumes.

        Yields ``(connection, channel, consumers)``; the consumers are
        cancelled and the connection closed afterwards.
        """
        with self.establish_connection() as conn:
            self.on_connection_revived()
            logger.info("connected to %s", conn.as_uri())
            channel = conn.default_channel
            self._consuming = conn
            made = list(self.get_consumers(partial(self._consumer, channel), channel))
            with self._consume_from(*made) as consumers:
                yield conn, channel, consumers
            logger.debug("consumers cancelled")
            self.on_consume_end(conn, channel)
        logger.debug("connection closed")

    @cached_property
    def restart_limit(self) -> TokenBucket:
        """Restarts allowed: one a second (kombu's ``TokenBucket(1)``)."""
        return TokenBucket(1)

    @cached_property
    def connection_errors(self) -> tuple[type[BaseException], ...]:
        """The errors that mean the connection failed."""
        return self.connection.connection_errors

    @cached_property
    def channel_errors(self) -> tuple[type[BaseException], ...]:
        """The errors that mean the broker closed a channel."""
        return self.connection.channel_errors


def _check_consuming(connection: Connection, consumers: list[Consumer]) -> None:
    """Raise if the connection died or the broker closed a consumer's channel.

    A channel the broker closes while nobody calls on it (a
    ``consumer_timeout``) raises nothing by itself: the consumer would
    wait for deliveries that never come.
    """
    connection.heartbeat_check()
    for consumer in consumers:
        channel = consumer.channel
        if not channel.is_open:
            raise ChannelClosed(
                f"the broker closed channel {channel.channel_id} of "
                f"{consumer!r} (a consumer_timeout does, with 406 "
                f"PRECONDITION_FAILED 'delivery acknowledgement timed out')"
            )


class ConsumerProducerMixin(ConsumerMixin):
    """A :class:`ConsumerMixin` that also publishes, on a connection of its own.

    :attr:`producer` publishes on :attr:`producer_connection`, a clone of
    :attr:`connection` connected on first use (so a publish waiting on a
    blocked connection never stalls the consuming one), and closed by
    :meth:`on_consume_end`: call ``super().on_consume_end(...)`` when you
    override it.
    """

    _producer_connection: Connection | None = None

    def on_consume_end(self, connection: Connection, channel: Channel) -> None:
        """Close the producer's connection."""
        del connection, channel
        conn, self._producer_connection = self._producer_connection, None
        if conn is not None:
            conn.close()

    @property
    def producer(self) -> Producer:
        """A new :class:`~kombu_lite.Producer` on :attr:`producer_connection`."""
        return Producer(self.producer_connection)

    @property
    def producer_connection(self) -> Connection:
        """The clone of :attr:`connection` publishing goes through.

        Connected on first use, with the same retries as consuming.
        """
        conn = self._producer_connection
        if conn is None:
            conn = self.connection.clone()
            self._ensure_connected(conn)
            self._producer_connection = conn
        return conn
