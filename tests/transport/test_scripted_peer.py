"""The scripted AMQP peer itself: a handshake, a scripted reply, a bad script."""

from __future__ import annotations

import pytest

from kombu_lite import Connection, Queue
from tests.scripted_peer import (
    CONNECTION_CLOSE,
    CONNECTION_CLOSE_OK,
    QUEUE_DECLARE,
    QUEUE_DECLARE_OK,
    PeerSession,
    ScriptedPeer,
)


def test_a_client_declares_a_queue_on_the_scripted_peer() -> None:
    def script(peer: PeerSession) -> None:
        declare = peer.expect(QUEUE_DECLARE)
        name = declare.arguments("Bs")[1]
        peer.send_method(declare.channel, QUEUE_DECLARE_OK, "sll", (name, 7, 1))
        peer.answer_until_closed()

    with ScriptedPeer(script) as peer, Connection(peer.url) as conn:
        declared = Queue("scripted").declare(channel=conn.default_channel)
        assert declared == "scripted"
    methods = [frame.method for frame in peer.sessions[0].received]
    assert methods.count(QUEUE_DECLARE) == 1
    assert methods[-1] == CONNECTION_CLOSE


def test_a_failed_script_fails_the_with_block() -> None:
    def script(peer: PeerSession) -> None:
        peer.expect(CONNECTION_CLOSE, timeout=5)
        peer.send_method(0, CONNECTION_CLOSE_OK)
        raise RuntimeError("the script went wrong")

    peer = ScriptedPeer(script)
    with pytest.raises(AssertionError, match="the script went wrong"), peer:
        Connection(peer.url).connect().release()
