"""Who reads a py-amqp connection's frames, and who waits for what.

py-amqp reads frames inside the call that waits for them: a thread that
sends ``queue.declare`` reads the socket until its ``declare-ok`` comes.
Its frame reader is not thread-safe, so only one thread may read at a time;
kombu_lite used to hold a lock for the whole length of every such call,
and a consumer thread blocked in ``drain_events`` then stopped every other
thread's declares.

Here a thread holds the read lock only while it reads one frame (or the
frames already in the buffer, up to the end of one method).  Whatever it
reads it dispatches, whoever it is for: py-amqp resolves a reply through
the waiting channel's ``_pending`` promise, in the thread that read it.
After each read the reader bumps :attr:`FrameReader.generation` and wakes
every waiting thread; a thread that found the lock taken waits for that
instead of reading, then looks at its own promise again.  So a consumer
blocked reading the socket reads and hands over the other threads'
replies, and a thread waiting for a reply never waits for the lock.

Deliveries and consumer cancellations are not run by the thread that
reads them: they are queued (:meth:`FrameReader.defer`) and handed out by
``drain_events`` alone, one per call, outside the read lock.  So a consumer
callback never runs nested inside another callback's confirm wait or
declare, and always in the thread that drains.

Only the thread holding the read lock ever looks at the socket, even to
ask whether bytes wait there (:meth:`FrameReader.data_waiting`,
:meth:`FrameReader.read_waiting`): under eventlet's monkey patching a
``select`` is a read too, and eventlet refuses a second green thread
waiting on a socket ("Second simultaneous read on fileno").

Every synchronous call has a deadline, ``rpc_timeout``, counted from the
call and not extended by anything the broker sends meanwhile (heartbeats
included).  When it passes, the channel is closed without waiting
(py-amqp then drops every late frame for it but the close-ok) and
:class:`~kombu_lite.exceptions.RpcTimeout` is raised.
"""

from __future__ import annotations

import contextlib
import select
import ssl as _ssl
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import amqp
from amqp import exceptions as amqp_errors
from amqp import spec
from vine import ensure_promise

from kombu_lite.exceptions import RpcTimeout

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "AmqpChannel",
    "FrameReader",
    "Queued",
    "QueuedItem",
    "ReplyWaiting",
    "socket_has_data",
]


def socket_has_data(conn: Any) -> bool:
    """True when bytes wait to be read on py-amqp connection ``conn``.

    Looks at the socket: call it only holding :attr:`FrameReader.read_lock`
    (or before any other thread can read, during the handshake).
    """
    transport = conn.transport
    sock = getattr(transport, "sock", None)
    if sock is None:
        return False
    if getattr(transport, "_read_buffer", b""):
        return True
    if isinstance(sock, _ssl.SSLSocket) and sock.pending() > 0:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


class QueuedItem(Protocol):
    """A delivery or a consumer cancellation waiting for ``drain_events``."""

    #: The channel (kombu_lite's wrapper) it arrived on.
    @property
    def owner(self) -> object: ...

    @property
    def consumer_tag(self) -> str: ...

    def run(self) -> bool:
        """Hand it out; returns whether the application was called."""
        ...


class Queued(NamedTuple):
    """A :class:`QueuedItem` made of its parts (a consumer cancellation)."""

    #: The channel (kombu_lite's wrapper) it arrived on.
    owner: object
    consumer_tag: str
    #: Hands it out; returns whether the application was called.
    run: Callable[[], bool]


class FrameReader:
    """Reads one py-amqp connection's frames for every thread that waits.

    Args:
        connection: The connected py-amqp connection.
        where: ``host:port``, for error messages.
        rpc_timeout: Seconds a synchronous call waits for its reply.
    """

    def __init__(self, connection: Any, where: str, rpc_timeout: float) -> None:
        self._conn = connection
        self.where = where
        self.rpc_timeout = rpc_timeout
        #: Held while one thread reads and dispatches frames.  Re-entrant:
        #: a handler that runs inside a dispatch (a return handler, for
        #: one) may make a synchronous call, and then reads itself.
        self.read_lock = threading.RLock()
        self._turn = threading.Condition()
        #: Bumped after every read (and every failed one), under ``_turn``.
        self.generation = 0
        self._queued: deque[QueuedItem] = deque()
        # Appends come from the reading thread, withdrawals from any.
        self._queue_lock = threading.Lock()
        #: True while the thread holding the read lock waits on the socket.
        self._on_socket = False

    # -- reading ---------------------------------------------------------------------

    def read_once(self, timeout: float | None) -> bool:
        """Read and dispatch frames; the caller holds :attr:`read_lock`.

        Frames already whole in the read buffer come first, without
        touching the socket, up to the end of one method; else one frame
        is read from the socket, waiting up to ``timeout`` seconds
        (``TimeoutError`` after that).  Returns whether a method was
        completed.  py-amqp's errors come out unmapped.
        """
        conn = self._conn
        # The private attributes: py-amqp's properties reconnect when they
        # find None, and a closed connection must stay closed.
        transport = conn._transport
        handle = conn._on_inbound_frame
        if transport is None or handle is None:
            raise amqp_errors.RecoverableConnectionError("connection already closed")
        buffered = getattr(transport, "buffered_frame", None)
        if buffered is not None:
            while (frame := buffered()) is not None:
                if handle(frame):
                    return True
        self._on_socket = True
        try:
            with transport.having_timeout(timeout):
                frame = transport.read_frame()
        finally:
            self._on_socket = False
        return bool(handle(frame))

    def read_buffered(self, limit: int) -> None:
        """Dispatch up to ``limit`` more methods already whole in the buffer.

        The caller holds :attr:`read_lock`.  Never touches the socket, so
        the lock is held for no longer than the handlers take: deliveries
        are only queued and replies only resolve promises.
        """
        conn = self._conn
        transport = conn._transport
        handle = conn._on_inbound_frame
        buffered = getattr(transport, "buffered_frame", None)
        if buffered is None or handle is None:
            return
        while limit > 0 and (frame := buffered()) is not None:
            if handle(frame):
                limit -= 1
                if conn._transport is not transport:
                    return  # a handler closed the connection: read no more

    def data_waiting(self) -> bool:
        """Whether bytes wait unread on the socket (for the heartbeat).

        Never blocks, and never looks at the socket while another thread
        holds :attr:`read_lock`.  That thread either waits on the socket,
        and then reads whatever arrives (py-amqp counts it in
        ``bytes_recv``): False; or it is dispatching frames it has just
        read: True, the broker was heard.
        """
        if not self.read_lock.acquire(blocking=False):
            return not self._on_socket
        try:
            return socket_has_data(self._conn)
        finally:
            self._release()

    def read_waiting(self) -> bool:
        """Read and dispatch what already waits on the socket, without blocking.

        Skipped (False) while another thread reads: that thread handles
        it.  Else, when bytes wait, frames are read up to the end of one
        method.  Returns True when a method was completed.  py-amqp's
        errors come out unmapped.
        """
        if not self.read_lock.acquire(blocking=False):
            return False
        try:
            return socket_has_data(self._conn) and self.read_once(0)
        except TimeoutError:
            return False
        finally:
            self._release()

    def _release(self) -> None:
        """Release :attr:`read_lock` and wake the threads waiting for a turn.

        Every hold ends so, even one that read nothing: a thread that found
        the lock taken waits for :attr:`generation` to move, and would
        otherwise sleep through its whole timeout.
        """
        self.read_lock.release()
        with self._turn:
            self.generation += 1
            self._turn.notify_all()

    def step(self, seen: int, timeout: float | None, batch: int = 0) -> bool:
        """One turn of waiting for frames, up to about ``timeout`` seconds.

        If no other thread is reading, read (:meth:`read_once`, then up to
        ``batch`` more methods already buffered, under the same hold of
        the lock) and wake the waiting threads.  Else wait until the reader
        has read something since :attr:`generation` was ``seen`` (read it
        *before* looking at what you wait for: then no wake-up is lost), or
        until :meth:`wake`.  Returns True when this thread completed a
        method.
        """
        lock = self.read_lock
        if lock.acquire(blocking=False):
            try:
                completed = self.read_once(timeout)
                if completed and batch:
                    # drain_events: a consumer's prefetched deliveries come
                    # in batches; queue them all for one lock hold and one
                    # wake-up instead of one each.
                    self.read_buffered(batch)
                return completed
            except TimeoutError:
                return False
            finally:
                self._release()
        with self._turn:
            if self.generation == seen:
                self._turn.wait(timeout)
        return False

    def wake(self) -> None:
        """Wake the waiting threads to look again (a confirm was settled...)."""
        with self._turn:
            self._turn.notify_all()

    # -- deliveries ----------------------------------------------------------------

    def defer(self, item: QueuedItem) -> None:
        """Queue a delivery or cancellation for ``drain_events`` to hand out.

        ``item.run`` runs later in the draining thread and returns whether
        it called the application.
        """
        with self._queue_lock:
            self._queued.append(item)

    def hand_out(self) -> bool | None:
        """Run the oldest queued item: None if there was none, else its result."""
        with self._queue_lock:
            if not self._queued:
                return None
            item = self._queued.popleft()
        return item.run()

    def withdraw(
        self, owner: object, consumer_tag: str | None = None
    ) -> list[QueuedItem]:
        """Take the queued items of ``owner`` (of one consumer, if given) out."""
        with self._queue_lock:
            taken = [
                item
                for item in self._queued
                if item.owner is owner
                and (consumer_tag is None or item.consumer_tag == consumer_tag)
            ]
            if taken:
                gone = {id(item) for item in taken}
                self._queued = deque(i for i in self._queued if id(i) not in gone)
        return taken

    @property
    def has_queued(self) -> bool:
        """Whether deliveries wait to be handed out."""
        return bool(self._queued)

    # -- synchronous calls -----------------------------------------------------------

    @contextlib.contextmanager
    def expecting(self, raw: Any, method: Any) -> Iterator[Any]:
        """Register a promise for the reply ``method`` of ``raw`` (a channel).

        Entered *before* the request is written: another thread may read
        the reply before this one starts waiting, and py-amqp drops a reply
        nobody expects.  Yields the promise; the registration is undone on
        leaving.
        """
        methods = method if isinstance(method, list) else [method]
        promise = ensure_promise(None)
        pending = raw._pending
        previous = [pending.get(m) for m in methods]
        for m in methods:
            pending[m] = promise
        try:
            yield promise
        finally:
            for m, before in zip(methods, previous, strict=True):
                if before is not None:
                    pending[m] = before
                else:
                    pending.pop(m, None)

    def wait_for_reply(
        self,
        raw: Any,
        promise: Any,
        method: Any,
        timeout: float | None = None,
        returns_tuple: bool = False,
    ) -> Any:
        """Wait for ``promise`` (see :meth:`expecting`), with a deadline.

        Returns what py-amqp's ``AbstractChannel.wait`` returns.

        Raises:
            RpcTimeout: no reply within ``rpc_timeout`` (or ``timeout``, if
                shorter); the channel was closed.
            amqp.exceptions.RecoverableConnectionError: the channel or the
                connection was closed while waiting.
        """
        reply = method[0] if isinstance(method, list) else method
        limit = self.rpc_timeout if timeout is None else min(timeout, self.rpc_timeout)
        deadline = time.monotonic() + limit
        while True:
            seen = self.generation
            if promise.ready:
                break
            if raw.connection is None:
                # Collected: the broker closed the channel (or the
                # connection) and another thread read it.
                raise amqp_errors.RecoverableConnectionError(
                    "connection already closed"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._expired(raw, reply, limit)
            self.step(seen, remaining)
        if promise.value:
            args, _kwargs = promise.value
            args = args[1:]  # the method signature
            return args if returns_tuple else (args and args[0])
        return None

    def _expired(self, raw: Any, reply: Any, limit: float) -> RpcTimeout:
        asked = _request_name(reply)
        channel_id = int(raw.channel_id or 0)
        if raw is raw.connection:
            outcome = "the connection is left to be closed"
        elif reply == spec.Channel.CloseOk:
            outcome = "the channel is given up"
        else:
            _abandon(raw, f"no reply to {asked} within {limit}s")
            outcome = (
                "the channel was closed, so a late reply is never taken as the "
                "answer to a later call; the method may or may not have taken "
                "effect on the broker"
            )
        return RpcTimeout(
            f"{self.where} did not answer {asked} on channel {channel_id} within "
            f"{limit}s (rpc_timeout): {outcome}",
            method=asked,
            channel_id=channel_id,
            timeout=limit,
        )


def _abandon(raw: Any, reason: str) -> None:
    """Close a channel whose reply is overdue, without waiting for close-ok.

    Its number stays taken until the close-ok comes (py-amqp's handler
    frees it), and until then py-amqp drops every other method for it: a
    late reply is read and thrown away, never given to a new channel that
    would reuse the number.
    """
    raw.is_closing = True
    raw.is_open = False
    with contextlib.suppress(Exception):
        raw.send_method(spec.Channel.Close, "BsBB", (200, reason[:255], 0, 0))


def _request_name(reply: Any) -> str:
    """``'queue.declare'`` for ``queue.declare-ok``'s signature."""
    class_id, method_id = reply
    name = amqp_errors.METHOD_NAME_MAP.get((class_id, method_id - 1))
    if name is None:
        return f"method {class_id}.{method_id - 1}"
    kind, _, verb = str(name).partition(".")
    return f"{kind.lower()}.{verb}"


class ReplyWaiting:
    """Makes py-amqp wait for replies through the connection's :class:`FrameReader`.

    Mixed into the py-amqp connection and channel classes.  Until the
    reader is attached (during the handshake) py-amqp waits as it always
    did.
    """

    connection: Any

    def _kl_reader(self) -> FrameReader | None:
        conn = self.connection
        return None if conn is None else getattr(conn, "kl_reader", None)

    def send_method(
        self,
        sig: Any,
        format: Any = None,  # noqa: A002 - py-amqp's name
        args: Any = None,
        content: Any = None,
        wait: Any = None,
        callback: Any = None,
        returns_tuple: bool = False,
    ) -> Any:
        """Send a method; with ``wait``, expect the reply *before* sending."""
        reader = self._kl_reader()
        send = super().send_method  # type: ignore[misc]  # py-amqp's, untyped
        if not wait or reader is None:
            return send(sig, format, args, content, wait, callback, returns_tuple)
        with reader.expecting(self, wait) as promise:
            send(sig, format, args, content, None, callback)
            return reader.wait_for_reply(
                self, promise, wait, returns_tuple=returns_tuple
            )

    def wait(
        self,
        method: Any,
        callback: Any = None,
        timeout: float | None = None,
        returns_tuple: bool = False,
    ) -> Any:
        """Wait for ``method`` (a reply) on this channel; see :class:`FrameReader`."""
        reader = self._kl_reader()
        if reader is None or callback is not None:
            return super().wait(  # type: ignore[misc]  # py-amqp's, untyped
                method, callback=callback, timeout=timeout, returns_tuple=returns_tuple
            )
        with reader.expecting(self, method) as promise:
            return reader.wait_for_reply(self, promise, method, timeout, returns_tuple)


class AmqpChannel(ReplyWaiting, amqp.Channel):  # type: ignore[misc,no-any-unimported]
    """py-amqp's Channel, waiting for replies through the :class:`FrameReader`."""
