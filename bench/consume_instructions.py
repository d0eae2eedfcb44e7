"""Client instructions per consumed message, counted by callgrind.

Wall-clock figures move with whatever else the machine runs; the number
of instructions the client executes per message does not.  For each peer
this fills a queue (outside the count), runs a consumer of ``small`` and
then of ``large`` messages under ``valgrind --tool=callgrind``, and
reports ``(I(large) - I(small)) / (large - small)``: the start-up, the
connection and the imports cancel out.  The broker runs outside
valgrind, so only the client is counted.

    python bench/consume_instructions.py                 # every peer
    python bench/consume_instructions.py kombu_lite --ack
    python bench/consume_instructions.py kombu_lite --ack --ack-batch 100
    python bench/consume_instructions.py --small 500 --large 2500

Needs valgrind and RabbitMQ on 127.0.0.1:5672.  Every queue is deleted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from amqp_cases import BODY, HOST, PORT, URL, _fill, _name
from harness import callgrind_instructions

PEERS = ("kombu_lite", "raw py-amqp", "pika", "kombu")


def consume(peer: str, name: str, count: int, ack: bool, ack_batch: int = 0) -> None:
    """Consume ``count`` messages of queue ``name`` (runs under valgrind).

    ``ack_batch`` (kombu_lite only): ``Consumer(ack_batch=...)``.
    """
    received = [0]
    if peer in ("kombu_lite", "kombu"):
        if peer == "kombu":
            from kombu import Connection, Consumer, Queue
        else:
            from kombu_lite import Connection, Consumer, Queue  # type: ignore[assignment]

        def on_body(body: Any, message: Any) -> None:
            if ack:
                message.ack()
            received[0] += 1

        options = {"ack_batch": ack_batch} if ack_batch else {}
        with Connection(URL) as conn:
            queue = Queue(name, no_declare=True) if peer == "kombu" else name
            with Consumer(
                conn,
                [queue],
                callbacks=[on_body],
                no_ack=not ack,
                prefetch_count=1000,
                auto_declare=False,
                **options,
            ):
                while received[0] < count:
                    conn.drain_events(timeout=10)
        return
    if peer == "pika":
        import pika

        conn = pika.BlockingConnection(
            pika.ConnectionParameters(
                HOST, PORT, credentials=pika.PlainCredentials("guest", "guest")
            )
        )
        channel = conn.channel()

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            json.loads(body)
            if ack:
                ch.basic_ack(method.delivery_tag)
            received[0] += 1

        channel.basic_qos(prefetch_count=1000)
        channel.basic_consume(name, on_message, auto_ack=not ack)
        while received[0] < count:
            conn.process_data_events(time_limit=1)
        conn.close()
        return
    import amqp

    raw = amqp.Connection(f"{HOST}:{PORT}", userid="guest", password="guest")
    raw.connect()
    chan = raw.channel()

    def on_raw(message: Any) -> None:
        json.loads(message.body)
        if ack:
            chan.basic_ack(message.delivery_tag)
        received[0] += 1

    chan.basic_qos(0, 1000, False)
    tag = chan.basic_consume(name, no_ack=not ack, callback=on_raw)
    while received[0] < count:
        raw.drain_events(timeout=10)
    chan.basic_cancel(tag)
    raw.close()


def _instructions(peer: str, count: int, ack: bool, ack_batch: int = 0) -> int:
    """Instructions of one consumer run of ``count`` messages."""
    import amqp

    name = _name()
    conn = amqp.Connection(f"{HOST}:{PORT}", userid="guest", password="guest")
    conn.connect()
    channel = conn.channel()
    channel.queue_declare(name, durable=True, auto_delete=False)
    try:
        _fill(name, count)
        return callgrind_instructions(
            [
                __file__,
                "--run",
                peer,
                name,
                str(count),
                *(["--ack"] if ack else []),
                *(["--ack-batch", str(ack_batch)] if ack_batch else []),
            ]
        )
    finally:
        channel.queue_delete(name)
        conn.close()


def main() -> None:
    """Parse the arguments; count, or (``--run``) be the counted consumer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peers", nargs="*", default=list(PEERS))
    parser.add_argument("--ack", action="store_true", help="ack each message")
    parser.add_argument(
        "--ack-batch", type=int, default=0, help="kombu_lite: Consumer(ack_batch=N)"
    )
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        peer, name, count = args.peers
        consume(peer, name, int(count), args.ack, args.ack_batch)
        return
    print(
        f"body {len(json.dumps(BODY))} bytes of JSON, "
        f"{'ack each' if args.ack else 'no_ack'}, prefetch 1000"
        + (f", ack_batch={args.ack_batch}" if args.ack_batch else "")
    )
    for peer in args.peers:
        small = _instructions(peer, args.small, args.ack, args.ack_batch)
        large = _instructions(peer, args.large, args.ack, args.ack_batch)
        per = (large - small) / (args.large - args.small)
        print(f"  {peer:<14}{per:>12,.0f} instructions/msg", flush=True)


if __name__ == "__main__":
    main()
