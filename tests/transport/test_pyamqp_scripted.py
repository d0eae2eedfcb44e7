"""The py-amqp transport's confirms, returns and closes, against a scripted peer.

What RabbitMQ does only now and then (coalesced and out-of-order confirms,
a ``basic.return`` before its ack, a ``channel.close`` while a confirm is
awaited, ``connection.blocked``) is played here exactly, without a broker,
through the wire contract (:class:`~kombu_lite.transport.base.WireChannel`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kombu_lite.exceptions import (
    AccessRefused,
    ChannelClosed,
    ConfirmTimeout,
    ConnectionBlocked,
    ConnectionLost,
    MessageNacked,
    NotAllowed,
    NotFound,
    OperationalError,
    PreconditionFailed,
    ProtocolError,
    ResourceLocked,
)
from kombu_lite.transport.base import (
    BasicProperties,
    ConnectionParameters,
    Delivery,
    ReturnedMessage,
    WireChannel,
    WireConnection,
)
from kombu_lite.transport.pyamqp import PyAmqpTransport
from tests.scripted_peer import (
    BASIC_ACK,
    BASIC_CONSUME,
    BASIC_CONSUME_OK,
    BASIC_PUBLISH,
    BASIC_QOS,
    BASIC_QOS_OK,
    CHANNEL_CLOSE,
    CHANNEL_CLOSE_OK,
    CONFIRM_SELECT,
    CONFIRM_SELECT_OK,
    CONNECTION_CLOSE,
    CONNECTION_CLOSE_OK,
    CONNECTION_OPEN,
    CONNECTION_START_OK,
    CONNECTION_TUNE,
    CONNECTION_TUNE_OK,
    EXCHANGE_DECLARE,
    EXCHANGE_DECLARE_OK,
    QUEUE_DECLARE,
    QUEUE_DECLARE_OK,
    Method,
    PeerSession,
    ScriptedPeer,
)

CONNECTION_BLOCKED: Method = (10, 60)
CONNECTION_UNBLOCKED: Method = (10, 61)
EXCHANGE_DELETE: Method = (40, 20)
EXCHANGE_DELETE_OK: Method = (40, 21)
EXCHANGE_BIND: Method = (40, 30)
EXCHANGE_BIND_OK: Method = (40, 31)
EXCHANGE_UNBIND: Method = (40, 40)
EXCHANGE_UNBIND_OK: Method = (40, 51)
QUEUE_BIND: Method = (50, 20)
QUEUE_BIND_OK: Method = (50, 21)
QUEUE_PURGE: Method = (50, 30)
QUEUE_PURGE_OK: Method = (50, 31)
QUEUE_DELETE: Method = (50, 40)
QUEUE_DELETE_OK: Method = (50, 41)
QUEUE_UNBIND: Method = (50, 50)
QUEUE_UNBIND_OK: Method = (50, 51)
BASIC_CANCEL: Method = (60, 30)
BASIC_CANCEL_OK: Method = (60, 31)
BASIC_RETURN: Method = (60, 50)
BASIC_GET: Method = (60, 70)
BASIC_GET_OK: Method = (60, 71)
BASIC_GET_EMPTY: Method = (60, 72)
BASIC_REJECT: Method = (60, 90)
BASIC_RECOVER: Method = (60, 110)
BASIC_RECOVER_OK: Method = (60, 111)
BASIC_NACK: Method = (60, 120)

PLAIN = BasicProperties()
Script = Callable[[PeerSession], None]


def _params(port: int, **overrides: Any) -> ConnectionParameters:
    fields: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "userid": "guest",
        "password": "guest",
        "virtual_host": "/",
        "connect_timeout": 4.0,
        "rpc_timeout": 3.0,
        **overrides,
    }
    return ConnectionParameters(**fields)


@contextlib.contextmanager
def scripted(
    script: Script, peer_options: dict[str, Any] | None = None, **params: Any
) -> Iterator[WireConnection]:
    """A wire connection to a peer playing ``script``; closed at the end."""
    with ScriptedPeer(script, **(peer_options or {})) as peer:
        conn = PyAmqpTransport().connect(_params(peer.port, **params))
        try:
            yield conn
        finally:
            conn.close()


def confirming(peer: PeerSession) -> int:
    """Answer the channel's ``confirm.select``; return the channel number."""
    select = peer.expect(CONFIRM_SELECT)
    peer.send_method(select.channel, CONFIRM_SELECT_OK)
    return select.channel


def published(peer: PeerSession, count: int) -> None:
    """Read ``count`` publishes (their content frames are skipped later)."""
    for _ in range(count):
        peer.expect(BASIC_PUBLISH)


def ack(peer: PeerSession, channel: int, tag: int, *, multiple: bool = False) -> None:
    peer.send_method(channel, BASIC_ACK, "Lb", (tag, multiple))


def nack(peer: PeerSession, channel: int, tag: int, *, multiple: bool = False) -> None:
    peer.send_method(channel, BASIC_NACK, "Lbb", (tag, multiple, False))


def send_return(peer: PeerSession, channel: int, routing_key: str, body: bytes) -> None:
    peer.send_message(
        channel, BASIC_RETURN, "Bsss", (312, "NO_ROUTE", "", routing_key), body
    )


def close_channel(peer: PeerSession, channel: int, code: int, text: str) -> None:
    """Close ``channel`` from the broker's side and read the client's close-ok."""
    peer.send_method(channel, CHANNEL_CLOSE, "BsBB", (code, text, 60, 40))
    peer.expect(CHANNEL_CLOSE_OK)


def publish(channel: WireChannel, body: bytes, *, mandatory: bool = False) -> int:
    return channel.basic_publish(body, PLAIN, "", "q", mandatory=mandatory)


# -- confirms --------------------------------------------------------------------------


def test_a_multiple_ack_confirms_every_message_up_to_its_tag() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 3)
        ack(peer, ch, 3, multiple=True)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tags = [publish(channel, b"m%d" % n) for n in range(3)]

        assert tags == [1, 2, 3]
        assert [channel.wait_for_confirm(tag, 5.0) for tag in tags] == [None] * 3


def test_out_of_order_acks_confirm_their_own_messages() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 3)
        ack(peer, ch, 2)
        ack(peer, ch, 3)
        ack(peer, ch, 1)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tags = [publish(channel, b"m") for _ in range(3)]

        assert [channel.wait_for_confirm(tag, 5.0) for tag in reversed(tags)] == [
            None
        ] * 3


def test_a_nack_raises_message_nacked_for_that_message_only() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 2)
        nack(peer, ch, 1)
        ack(peer, ch, 2)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        first, second = publish(channel, b"a"), publish(channel, b"b")

        with pytest.raises(MessageNacked, match="refused message 1") as info:
            channel.wait_for_confirm(first, 5.0)
        assert info.value.delivery_tag == 1
        assert channel.wait_for_confirm(second, 5.0) is None


def test_a_multiple_nack_refuses_every_message_up_to_its_tag() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 2)
        nack(peer, ch, 2, multiple=True)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tags = [publish(channel, b"m") for _ in range(2)]

        for tag in tags:
            with pytest.raises(MessageNacked):
                channel.wait_for_confirm(tag, 5.0)


def test_an_ack_for_an_unknown_tag_is_ignored() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 1)
        ack(peer, ch, 7)
        ack(peer, ch, 1)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()

        assert channel.wait_for_confirm(publish(channel, b"m"), 5.0) is None


def test_a_confirm_that_never_comes_is_a_confirm_timeout() -> None:
    def script(peer: PeerSession) -> None:
        confirming(peer)
        published(peer, 1)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tag = publish(channel, b"m")

        with pytest.raises(ConfirmTimeout, match="outcome is unknown"):
            channel.wait_for_confirm(tag, 0.2)


def test_selecting_confirms_twice_asks_the_broker_once() -> None:
    def script(peer: PeerSession) -> None:
        confirming(peer)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        channel.confirm_select()  # a second select would wait for no reply

        assert channel.is_open


def test_a_batch_gets_consecutive_tags_settled_by_one_multiple_ack() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 3)
        ack(peer, ch, 3, multiple=True)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tags = channel.basic_publish_batch(
            [(b"a", PLAIN), (b"b", PLAIN), (b"c", PLAIN)], "", "q", mandatory=True
        )

        assert tags == [1, 2, 3]
        assert [channel.wait_for_confirm(tag, 5.0) for tag in tags] == [None] * 3


def test_a_batch_without_confirms_gets_zeros() -> None:
    def script(peer: PeerSession) -> None:
        published(peer, 2)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()

        assert channel.basic_publish_batch([(b"a", PLAIN), (b"b", PLAIN)], "", "q") == [
            0,
            0,
        ]


# -- returns ---------------------------------------------------------------------------


def test_a_return_before_its_ack_comes_back_from_wait_for_confirm() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 1)
        send_return(peer, ch, "q", b"lost")
        ack(peer, ch, 1)
        peer.answer_until_closed()

    handled: list[ReturnedMessage] = []
    with scripted(script) as conn:
        channel = conn.channel()
        channel.set_return_handler(handled.append)
        channel.confirm_select()
        tag = publish(channel, b"lost", mandatory=True)

        returned = channel.wait_for_confirm(tag, 5.0)

    assert returned is not None
    assert (returned.reply_code, returned.reply_text, returned.body) == (
        312,
        "NO_ROUTE",
        b"lost",
    )
    assert handled == [returned]


def test_a_coalesced_ack_gives_the_return_to_its_own_message() -> None:
    # RabbitMQ: message 2 is returned (and acked at once), 1 and 3 are
    # routed; one multiple ack settles all three.
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 3)
        send_return(peer, ch, "q", b"two")
        ack(peer, ch, 3, multiple=True)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tags = [
            publish(channel, body, mandatory=True)
            for body in (b"one", b"two", b"three")
        ]

        outcomes = [channel.wait_for_confirm(tag, 5.0) for tag in tags]

    assert outcomes[0] is None
    assert outcomes[1] is not None
    assert outcomes[1].body == b"two"
    assert outcomes[2] is None


def test_a_return_acked_out_of_order_still_finds_its_message() -> None:
    # The returned message 2 is acked first, the routed 1 after its disk write.
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 2)
        send_return(peer, ch, "q", b"two")
        ack(peer, ch, 2)
        ack(peer, ch, 1)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        first = publish(channel, b"one", mandatory=True)
        second = publish(channel, b"two", mandatory=True)

        returned = channel.wait_for_confirm(second, 5.0)
        assert channel.wait_for_confirm(first, 5.0) is None

    assert returned is not None
    assert returned.body == b"two"


def test_a_nacked_mandatory_message_takes_no_return() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 2)
        send_return(peer, ch, "q", b"same")
        nack(peer, ch, 1)
        ack(peer, ch, 2)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        first = publish(channel, b"same", mandatory=True)
        second = publish(channel, b"same", mandatory=True)

        with pytest.raises(MessageNacked):
            channel.wait_for_confirm(first, 5.0)
        returned = channel.wait_for_confirm(second, 5.0)

    assert returned is not None
    assert returned.body == b"same"


def test_a_return_nobody_claims_is_dropped_once_its_message_settled() -> None:
    # A return for a message that was not mandatory-tracked (its key was
    # never recorded) must not be taken by a later message.
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 1)
        send_return(peer, ch, "q", b"other")
        ack(peer, ch, 1)
        published(peer, 1)
        ack(peer, ch, 2)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        first = publish(channel, b"first")
        assert channel.wait_for_confirm(first, 5.0) is None
        second = publish(channel, b"other", mandatory=True)

        assert channel.wait_for_confirm(second, 5.0) is None


def test_a_return_without_confirms_goes_to_the_handler_in_drain_events() -> None:
    def script(peer: PeerSession) -> None:
        published(peer, 1)
        send_return(peer, 1, "q", b"lost")
        peer.answer_until_closed()

    handled: list[ReturnedMessage] = []
    with scripted(script) as conn:
        channel = conn.channel()
        channel.set_return_handler(handled.append)
        publish(channel, b"lost", mandatory=True)
        while not handled:
            conn.drain_events(timeout=5.0)

    assert [r.body for r in handled] == [b"lost"]


# -- closes ----------------------------------------------------------------------------


def test_a_channel_close_while_a_confirm_is_awaited_raises_the_brokers_error() -> None:
    def script(peer: PeerSession) -> None:
        ch = confirming(peer)
        published(peer, 1)
        close_channel(peer, ch, 404, "NOT_FOUND - no exchange 'x'")
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.confirm_select()
        tag = publish(channel, b"m")

        with pytest.raises(NotFound, match="no exchange 'x'"):
            channel.wait_for_confirm(tag, 5.0)
        with pytest.raises(ChannelClosed, match="404"):
            publish(channel, b"again")
        assert not channel.is_open


def test_a_channel_close_between_calls_is_raised_once_by_the_next_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = threading.Event()

    def script(peer: PeerSession) -> None:
        published(peer, 2)
        text = "PRECONDITION_FAILED - bad delivery mode"
        peer.send_method(1, CHANNEL_CLOSE, "BsBB", (406, text, 60, 40))
        closed.set()
        peer.expect(CHANNEL_CLOSE_OK)
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        publish(channel, b"a")
        publish(channel, b"b")
        assert closed.wait(5.0)
        with caplog.at_level(logging.WARNING):
            while channel.is_open:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.1)

        with pytest.raises(PreconditionFailed, match="bad delivery mode"):
            channel.queue_purge("q")
        with pytest.raises(ChannelClosed, match="406"):
            channel.queue_purge("q")
    assert "2 message(s) published on it without publisher confirms" in caplog.text


def test_a_channel_close_during_a_call_is_raised_to_that_call() -> None:
    def script(peer: PeerSession) -> None:
        declare = peer.expect(QUEUE_DECLARE)
        close_channel(peer, declare.channel, 405, "RESOURCE_LOCKED - in use")
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()

        with pytest.raises(ResourceLocked, match="in use") as info:
            channel.queue_declare("q")
        assert info.value.reply_code == 405
        assert not channel.is_open


def test_publishing_after_close_raises_channel_closed() -> None:
    def script(peer: PeerSession) -> None:
        peer.answer_until_closed()

    with scripted(script) as conn:
        channel = conn.channel()
        channel.close()
        channel.close()

        with pytest.raises(ChannelClosed, match="closed by the application"):
            publish(channel, b"m")
        with pytest.raises(ChannelClosed):
            channel.basic_publish_batch([(b"m", PLAIN)], "", "q")


# -- connection.blocked ----------------------------------------------------------------


def test_a_blocked_connection_holds_publishes_until_the_timeout() -> None:
    def script(peer: PeerSession) -> None:
        peer.send_method(0, CONNECTION_BLOCKED, "s", ("low on memory",))
        peer.answer_until_closed()

    reasons: list[str] = []
    with scripted(
        script, blocked_connection_timeout=0.3, on_blocked=reasons.append
    ) as conn:
        channel = conn.channel()
        while not reasons:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.1)

        with pytest.raises(ConnectionBlocked, match="low on memory"):
            publish(channel, b"m")

    assert reasons == ["low on memory"]


def test_an_unblock_lets_the_held_publish_go_on() -> None:
    def script(peer: PeerSession) -> None:
        open_ = peer.read_frame()
        peer.send_method(open_.channel, (20, 11), "S", ("",))
        peer.send_method(0, CONNECTION_BLOCKED, "s", ("low on disk",))
        peer.idle(0.3)
        peer.send_method(0, CONNECTION_UNBLOCKED)
        published(peer, 1)
        peer.answer_until_closed()

    events: list[str] = []
    with scripted(
        script,
        blocked_connection_timeout=5.0,
        on_blocked=events.append,
        on_unblocked=lambda: events.append("unblocked"),
    ) as conn:
        channel = conn.channel()
        while not events:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.1)
        publish(channel, b"m")

    assert events == ["low on disk", "unblocked"]


# -- consuming, getting, declaring -----------------------------------------------------


def test_a_consumer_gets_its_deliveries_and_the_brokers_cancel() -> None:
    def script(peer: PeerSession) -> None:
        qos = peer.expect(BASIC_QOS)
        peer.send_method(qos.channel, BASIC_QOS_OK)
        consume = peer.expect(BASIC_CONSUME)
        tag = consume.arguments("Bss")[2]
        peer.send_method(consume.channel, BASIC_CONSUME_OK, "s", (tag,))
        peer.deliver(consume.channel, tag, 1, b"hello", properties={"priority": 3})
        peer.send_method(consume.channel, BASIC_CANCEL, "sb", (tag, False))
        peer.answer_until_closed()

    deliveries: list[Delivery] = []
    cancelled: list[str] = []
    with scripted(script) as conn:
        channel = conn.channel()
        channel.basic_qos(prefetch_count=10)
        tag = channel.basic_consume("q", deliveries.append, on_cancel=cancelled.append)
        while not cancelled:
            conn.drain_events(timeout=5.0)

    assert [(d.body, d.delivery_tag, d.consumer_tag) for d in deliveries] == [
        (b"hello", 1, tag)
    ]
    assert deliveries[0].properties.priority == 3
    assert cancelled == [tag]


def test_a_delivery_for_a_cancelled_consumer_goes_back_to_the_broker() -> None:
    def script(peer: PeerSession) -> None:
        consume = peer.expect(BASIC_CONSUME)
        tag = consume.arguments("Bss")[2]
        peer.send_method(consume.channel, BASIC_CONSUME_OK, "s", (tag,))
        peer.deliver(consume.channel, tag, 1, b"late")
        cancel = peer.expect(BASIC_CANCEL)
        peer.send_method(cancel.channel, BASIC_CANCEL_OK, "s", (tag,))
        reject = peer.expect(BASIC_REJECT)
        assert reject.arguments("Lb") == [1, True]
        peer.answer_until_closed()

    deliveries: list[Delivery] = []
    with scripted(script) as conn:
        channel = conn.channel()
        tag = channel.basic_consume("q", deliveries.append)
        channel.basic_cancel(tag)  # the delivery was read meanwhile, or now
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=0.2)

    assert deliveries == []


def test_get_ack_reject_recover_and_the_declares_reach_the_peer() -> None:
    answers = {
        EXCHANGE_DECLARE: (EXCHANGE_DECLARE_OK, "", ()),
        EXCHANGE_DELETE: (EXCHANGE_DELETE_OK, "", ()),
        EXCHANGE_BIND: (EXCHANGE_BIND_OK, "", ()),
        EXCHANGE_UNBIND: (EXCHANGE_UNBIND_OK, "", ()),
        QUEUE_DECLARE: (QUEUE_DECLARE_OK, "sll", ("q", 4, 1)),
        QUEUE_BIND: (QUEUE_BIND_OK, "", ()),
        QUEUE_UNBIND: (QUEUE_UNBIND_OK, "", ()),
        QUEUE_PURGE: (QUEUE_PURGE_OK, "l", (3,)),
        QUEUE_DELETE: (QUEUE_DELETE_OK, "l", (2,)),
        BASIC_RECOVER: (BASIC_RECOVER_OK, "", ()),
    }

    def script(peer: PeerSession) -> None:
        gets = 0
        while True:
            frame = peer.read_frame()
            method = frame.method
            if method == (20, 10):
                peer.send_method(frame.channel, (20, 11), "S", ("",))
            elif method in answers:
                reply, signature, arguments = answers[method]
                peer.send_method(frame.channel, reply, signature, arguments)
            elif method == BASIC_GET:
                gets += 1
                if gets == 1:
                    peer.send_message(
                        frame.channel, BASIC_GET_OK, "Lbssl", (5, True, "", "q", 9), b""
                    )
                else:
                    peer.send_method(frame.channel, BASIC_GET_EMPTY, "s", ("",))
            elif method == CONNECTION_CLOSE:
                peer.send_method(0, CONNECTION_CLOSE_OK)
                return

    with scripted(script) as conn:
        channel = conn.channel()
        channel.exchange_declare("x", "topic", internal=True)
        channel.exchange_bind("x2", "x", "k")
        channel.exchange_unbind("x2", "x", "k")
        channel.exchange_delete("x")
        declared = channel.queue_declare("q", arguments={"x-max-length": 1})
        channel.queue_bind("q", "x", "k")
        channel.queue_unbind("q", "x", "k")
        got = channel.basic_get("q")
        channel.basic_ack(5)
        channel.basic_reject(5, requeue=False)
        channel.basic_recover()
        assert channel.basic_get("q") is None
        purged = channel.queue_purge("q")
        deleted = channel.queue_delete("q")

    assert (declared.queue, declared.message_count, declared.consumer_count) == (
        "q",
        4,
        1,
    )
    assert got is not None
    assert (got.body, got.delivery_tag, got.redelivered, got.message_count) == (
        b"",
        5,
        True,
        9,
    )
    assert (purged, deleted) == (3, 2)


# -- the connect path ------------------------------------------------------------------


def _handshake_until(step: Method, reply: Callable[[PeerSession], None]) -> Script:
    def script(peer: PeerSession) -> None:
        peer.read_protocol_header()
        peer.send_method(0, (10, 10), "ooFSS", (0, 9, {}, "PLAIN AMQPLAIN", "en_US"))
        peer.expect(CONNECTION_START_OK)
        if step == CONNECTION_START_OK:
            reply(peer)
            return
        peer.send_method(0, CONNECTION_TUNE, "BlB", (2047, 131072, 0))
        peer.expect(CONNECTION_TUNE_OK)
        peer.expect(CONNECTION_OPEN)
        reply(peer)

    return script


def test_an_unknown_virtual_host_is_not_allowed_and_names_it() -> None:
    def refuse(peer: PeerSession) -> None:
        peer.send_method(
            0,
            CONNECTION_CLOSE,
            "BsBB",
            (530, "NOT_ALLOWED - vhost /x not found", 10, 40),
        )
        peer.idle(1)

    with (
        ScriptedPeer(
            _handshake_until(CONNECTION_OPEN, refuse), handshake=False
        ) as peer,
        pytest.raises(NotAllowed, match="refused virtual host '/x'") as info,
    ):
        PyAmqpTransport().connect(_params(peer.port, virtual_host="/x"))

    assert info.value.__cause__ is not None  # raised from py-amqp's error


def test_a_refused_login_names_the_user_and_keeps_its_cause() -> None:
    def refuse(peer: PeerSession) -> None:
        peer.send_method(
            0, CONNECTION_CLOSE, "BsBB", (403, "ACCESS_REFUSED - login refused", 0, 0)
        )
        peer.idle(1)

    with (
        ScriptedPeer(
            _handshake_until(CONNECTION_START_OK, refuse), handshake=False
        ) as peer,
        pytest.raises(AccessRefused, match="user 'guest'") as info,
    ):
        PyAmqpTransport().connect(_params(peer.port))

    assert "guest" not in str(info.value).replace("user 'guest'", "")
    assert info.value.__cause__ is not None


def test_a_peer_that_is_no_amqp_server_is_a_protocol_error() -> None:
    def script(peer: PeerSession) -> None:
        peer.read_protocol_header()
        peer.send_raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        peer.idle(1)

    with (
        ScriptedPeer(script, handshake=False) as peer,
        pytest.raises(ProtocolError) as info,
    ):
        PyAmqpTransport().connect(_params(peer.port))

    assert info.value.__cause__ is not None


def test_a_peer_that_hangs_up_in_the_handshake_is_a_protocol_error() -> None:
    def script(peer: PeerSession) -> None:
        peer.read_protocol_header()
        peer.sock.close()

    with (
        ScriptedPeer(script, handshake=False) as peer,
        pytest.raises(OperationalError) as info,
    ):
        PyAmqpTransport().connect(_params(peer.port))

    assert info.value.__cause__ is not None


# -- heartbeats ------------------------------------------------------------------------


def test_an_idle_connection_sends_heartbeats() -> None:
    beats = threading.Event()

    def script(peer: PeerSession) -> None:
        frame = peer.read_frame(timeout=5.0, heartbeats=True)
        if frame.type == 8:
            beats.set()
        peer.answer_until_closed()

    with scripted(script, peer_options={"heartbeat": 1}, heartbeat=1) as conn:
        assert conn.heartbeat == 1.0
        assert beats.wait(5.0)


def test_a_silent_peer_is_found_dead_by_the_heartbeat() -> None:
    def script(peer: PeerSession) -> None:
        peer.idle(5)

    with scripted(script, peer_options={"heartbeat": 1}, heartbeat=1) as conn:
        with pytest.raises(ConnectionLost):
            conn.drain_events(timeout=5.0)
        assert not conn.is_connected
