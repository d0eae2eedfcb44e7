"""The session's sweep deletes what a test left on 5672, and only that."""

from __future__ import annotations

import shutil
import uuid

import amqp
import pytest

from .leftovers import sweep_leftovers

pytestmark = pytest.mark.broker


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl")
def test_the_sweep_deletes_marked_queues_and_exchanges_and_keeps_the_rest(
    rabbitmq: str,
) -> None:
    del rabbitmq
    mark = f"klsweep-{uuid.uuid4().hex[:6]}"
    kept = f"klkept-{uuid.uuid4().hex[:6]}"
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    conn.connect()
    try:
        channel = conn.channel()
        channel.queue_declare(f"{mark}-q", auto_delete=False)
        channel.exchange_declare(f"{mark}-x", "direct", auto_delete=False)
        channel.queue_declare(kept, auto_delete=False)
        try:
            swept = sweep_leftovers(mark)

            assert sorted(swept) == [f"exchange {mark}-x", f"queue {mark}-q"]
            assert channel.queue_declare(kept, passive=True).queue == kept
            with pytest.raises(amqp.NotFound):
                channel.queue_declare(f"{mark}-q", passive=True)
        finally:
            channel = conn.channel()
            channel.queue_delete(kept)
            channel.queue_delete(f"{mark}-q")
            channel.exchange_delete(f"{mark}-x")
    finally:
        conn.close()


def test_nothing_marked_means_nothing_swept(rabbitmq: str) -> None:
    del rabbitmq
    assert sweep_leftovers(f"klnone-{uuid.uuid4().hex}") == []
