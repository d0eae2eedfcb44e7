"""kombu_lite against raw py-amqp, kombu and pika, side by side in one run.

    python bench/run.py                    # every section, 5 rounds
    python bench/run.py --smoke            # a few messages: proves it runs
    python bench/run.py --rounds 7 --json results.json
    python bench/run.py --out docs/guide/bench  # JSON, Markdown, plots
    python bench/run.py --only publish --only memory
    python bench/run.py --profile publish  # cProfile one kombu_lite case

Sections: ``publish`` (unconfirmed, persistent messages to a durable
queue, with the captured-frames wire ceiling), ``publish-transient`` (the
same with transient messages to a non-durable queue, where the broker is
not the limit), ``confirm-each``, ``pipelined``, ``quorum`` (publish_many
to a quorum queue, with its confirmed ceiling), ``consume`` (prefetch 1000,
no_ack, with the raw-socket consume ceiling), ``consume-ack`` (the same
with one ack per message), ``consume-mixin`` (ConsumerMixin workers acking
each message), ``memory`` (memory:// publish + consume round trip),
``memory-burst`` (1,000,000 messages through one memory:// queue in a fresh
interpreter: its peak RSS), ``import`` and
``import-4-names`` (fresh interpreters: time and peak RSS).  RabbitMQ must
listen on 127.0.0.1:5672 (guest/guest) for the broker sections; without it
they are left out.  Every queue the run creates is deleted.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import socket
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import amqp_cases as amqp
import consume_cases as consume
import large_cases as large
import local_cases as local
import quorum_cases as quorum
import report as output
from harness import Case, Run, Target, report, run_rounds

#: section -> (base peer for its ratios, full-run message count)
SECTIONS: dict[str, tuple[str, int]] = {
    # Issue 16: publish ratios to the ceiling at >= 50,000 messages.
    "publish": ("raw py-amqp", 50000),
    "publish-transient": ("raw py-amqp", 50000),
    "confirm-each": ("raw py-amqp", 2000),
    "pipelined": ("raw py-amqp confirm-each", 20000),
    "quorum": ("raw py-amqp confirm-each", 50000),
    "consume": ("raw py-amqp", 20000),
    "consume-ack": ("raw py-amqp", 20000),
    "consume-mixin": ("kombu", 20000),
    "memory": ("kombu", 10000),
    "memory-burst": ("kombu_lite, publish all then consume", 1_000_000),
    "import": ("import kombu", 1),
    "import-4-names": ("from kombu import (4 names)", 1),
}

_CEILING = "wire ceiling (captured frames)"
_QUORUM_CEILING = "quorum ceiling (captured frames)"
_CONSUME_CEILING = "consume ceiling (raw socket)"
_ACK_BATCH = "kombu_lite ack_batch=100"
_ACK_MULTIPLE = "kombu_lite ack(multiple=True) /100"

TARGETS = [
    Target(
        "unconfirmed publish: kombu_lite / raw py-amqp",
        ("publish", "kombu_lite"),
        ("publish", "raw py-amqp"),
        "msg/s",
        2.0,
    ),
    Target(
        "unconfirmed publish: kombu_lite / wire ceiling",
        ("publish", "kombu_lite"),
        ("publish", _CEILING),
        "msg/s",
        0.95,
    ),
    Target(
        "client CPU per persistent publish: kombu_lite / raw py-amqp",
        ("publish", "kombu_lite"),
        ("publish", "raw py-amqp"),
        "client CPU us/msg",
        0.1,
        at_least=False,
    ),
    Target(
        "transient publish: kombu_lite / raw py-amqp",
        ("publish-transient", "kombu_lite"),
        ("publish-transient", "raw py-amqp"),
        "msg/s",
        2.0,
    ),
    Target(
        "transient publish: kombu_lite / wire ceiling",
        ("publish-transient", "kombu_lite"),
        ("publish-transient", _CEILING),
        "msg/s",
        0.95,
    ),
    Target(
        "client CPU per transient publish: kombu_lite / raw py-amqp",
        ("publish-transient", "kombu_lite"),
        ("publish-transient", "raw py-amqp"),
        "client CPU us/msg",
        0.1,
        at_least=False,
    ),
    Target(
        "quorum publish_many / raw py-amqp confirm-each (reported)",
        ("quorum", "kombu_lite publish_many"),
        ("quorum", "raw py-amqp confirm-each"),
        "msg/s",
        None,
    ),
    Target(
        "quorum publish_many / quorum ceiling (reported)",
        ("quorum", "kombu_lite publish_many"),
        ("quorum", _QUORUM_CEILING),
        "msg/s",
        None,
    ),
    Target(
        "publish_many / raw py-amqp confirm-each",
        ("pipelined", "kombu_lite publish_many"),
        ("pipelined", "raw py-amqp confirm-each"),
        "msg/s",
        3.0,
    ),
    Target(
        "publish_many / kombu_lite unconfirmed publish",
        ("pipelined", "kombu_lite publish_many"),
        ("publish", "kombu_lite"),
        "msg/s",
        0.7,
    ),
    Target(
        "memory:// round trip: kombu_lite / kombu",
        ("memory", "kombu_lite"),
        ("memory", "kombu"),
        "msg/s",
        5.0,
    ),
    Target(
        "memory:// round trip, CPU per message: kombu / kombu_lite (reported)",
        ("memory", "kombu"),
        ("memory", "kombu_lite"),
        "CPU us/msg",
        None,
    ),
    Target(
        "memory:// 1M burst, publish all then consume: peak RSS MiB",
        ("memory-burst", "kombu_lite, publish all then consume"),
        None,
        "peak RSS MiB",
        400,
        at_least=False,
    ),
    Target(
        "memory:// 1M burst, interleaved: peak RSS MiB",
        ("memory-burst", "kombu_lite, interleaved"),
        None,
        "peak RSS MiB",
        400,
        at_least=False,
    ),
    Target(
        "import time: import kombu_lite / import kombu",
        ("import", "import kombu_lite"),
        ("import", "import kombu"),
        "import ms",
        0.5,
        at_least=False,
    ),
    Target(
        "import time, 4 names: kombu_lite / kombu (reported)",
        ("import-4-names", "from kombu_lite import (4 names)"),
        ("import-4-names", "from kombu import (4 names)"),
        "import ms",
        None,
        at_least=False,
    ),
    Target(
        "consume, prefetch 1000, no_ack: kombu_lite / raw py-amqp",
        ("consume", "kombu_lite"),
        ("consume", "raw py-amqp"),
        "msg/s",
        1.0,
    ),
    Target(
        "consume, no_ack: kombu_lite / pika",
        ("consume", "kombu_lite"),
        ("consume", "pika"),
        "msg/s",
        1.3,
    ),
    Target(
        "consume, no_ack: kombu_lite / consume ceiling",
        ("consume", "kombu_lite"),
        ("consume", _CONSUME_CEILING),
        "msg/s",
        0.9,
    ),
    Target(
        "consume, ack each: kombu_lite / pika",
        ("consume-ack", "kombu_lite"),
        ("consume-ack", "pika"),
        "msg/s",
        1.3,
    ),
    Target(
        "consume, ack each: kombu_lite / consume ceiling",
        ("consume-ack", "kombu_lite"),
        ("consume-ack", _CONSUME_CEILING),
        "msg/s",
        0.9,
    ),
    Target(
        "consume, ack(multiple=True) every 100: kombu_lite / consume ceiling",
        ("consume-ack", _ACK_MULTIPLE),
        ("consume-ack", _CONSUME_CEILING),
        "msg/s",
        0.9,
    ),
    Target(
        "consume, ack_batch=100: kombu_lite / consume ceiling (reported)",
        ("consume-ack", _ACK_BATCH),
        ("consume-ack", _CONSUME_CEILING),
        "msg/s",
        None,
    ),
    Target(
        "client CPU per message, no_ack: kombu_lite / pika (reported)",
        ("consume", "kombu_lite"),
        ("consume", "pika"),
        "client CPU us/msg",
        None,
        at_least=False,
    ),
    Target(
        "client CPU per message, ack each: kombu_lite / pika (reported)",
        ("consume-ack", "kombu_lite"),
        ("consume-ack", "pika"),
        "client CPU us/msg",
        None,
        at_least=False,
    ),
    Target(
        "ConsumerMixin, ack each: kombu_lite / kombu",
        ("consume-mixin", "kombu_lite"),
        ("consume-mixin", "kombu"),
        "msg/s",
        1.2,
    ),
]


# -- large bodies (issue 16, item 4): peak RSS over the body size, fresh
# interpreters; the section's count is the body size in MiB.
SECTIONS["large"] = ("kombu amqp://", large.BODY_MIB)
TARGETS += [
    Target(
        f"large body, {phase}: kombu_lite {url} copies of the body",
        ("large", f"kombu_lite {url}"),
        None,
        f"{phase} copies",
        limit,
        at_least=False,
    )
    for url in ("amqp://", "memory://")
    for phase, limit in (("publish", 1.25), ("receive", 1.25))
]


def _broker_up(patience: float = 30.0) -> bool:
    """Whether RabbitMQ listens; waits a little for one being restarted."""
    deadline = time.monotonic() + patience
    while True:
        try:
            socket.create_connection((amqp.HOST, amqp.PORT), timeout=1).close()
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(1)
        else:
            return True


def _has_ack_batch() -> bool:
    """Whether the kombu_lite measured has ``Consumer(ack_batch=...)``."""
    import inspect

    from kombu_lite import Consumer

    return "ack_batch" in inspect.signature(Consumer).parameters


def build_cases(
    only: set[str], smoke: bool, import_repeats: int, broker: bool
) -> list[Case]:
    """Every case of the selected sections, peers in their listed order."""
    peers: dict[str, list[tuple[str, Run]]] = {
        "memory": [
            ("kombu", local.kombu_memory),
            ("kombu_lite", local.kombu_lite_memory),
        ],
        "memory-burst": [
            (
                "kombu_lite, publish all then consume",
                local.kombu_lite_burst(interleaved=False),
            ),
            ("kombu_lite, interleaved", local.kombu_lite_burst(interleaved=True)),
        ],
        "import": [
            (label, local.import_case(statement, import_repeats))
            for label, statement in local.IMPORTS.items()
            if label.startswith("import ")
        ],
        "import-4-names": [
            (label, local.import_case(statement, import_repeats))
            for label, statement in local.IMPORTS.items()
            if label.startswith("from ")
        ],
    }
    if broker:
        for section, persistent in (("publish", True), ("publish-transient", False)):
            peers[section] = [
                (peer, partial(run, persistent=persistent))
                for peer, run in (
                    ("raw py-amqp", amqp.raw_publish),
                    ("kombu_lite", amqp.kombu_lite_publish),
                    ("kombu", amqp.kombu_publish),
                    ("pika", amqp.pika_publish),
                    (_CEILING, amqp.wire_ceiling),
                )
            ]
        peers["confirm-each"] = [
            ("raw py-amqp", amqp.raw_confirm_each),
            ("kombu_lite", amqp.kombu_lite_confirm_each),
            ("kombu", amqp.kombu_confirm_each),
            ("pika", amqp.pika_confirm_each),
        ]
        peers["pipelined"] = [
            ("raw py-amqp confirm-each", amqp.raw_confirm_each),
            ("kombu_lite publish_many", amqp.kombu_lite_publish_many),
            ("raw py-amqp, acks read by hand", amqp.raw_pipelined),
        ]
        peers["quorum"] = [
            ("raw py-amqp confirm-each", quorum.raw_confirm_each),
            ("kombu_lite publish_many", quorum.kombu_lite_publish_many),
            (_QUORUM_CEILING, quorum.quorum_ceiling),
        ]
        peers["consume"] = [
            ("raw py-amqp", consume.raw_consume),
            ("kombu_lite", consume.kombu_lite_consume),
            ("kombu", consume.kombu_consume),
            ("pika", consume.pika_consume),
            (_CONSUME_CEILING, consume.consume_ceiling),
        ]
        peers["consume-ack"] = [
            (peer, partial(run, ack=True))
            for peer, run in (
                ("raw py-amqp", consume.raw_consume),
                ("kombu_lite", consume.kombu_lite_consume),
                ("kombu", consume.kombu_consume),
                ("pika", consume.pika_consume),
                (_CONSUME_CEILING, consume.consume_ceiling),
            )
        ]
        peers["consume-ack"].append(
            (
                _ACK_MULTIPLE,
                partial(consume.kombu_lite_consume, ack=True, ack_multiple=100),
            )
        )
        if _has_ack_batch():
            peers["consume-ack"].append(
                (
                    _ACK_BATCH,
                    partial(consume.kombu_lite_consume, ack=True, ack_batch=100),
                )
            )
        peers["consume-mixin"] = [
            ("kombu", consume.kombu_mixin),
            ("kombu_lite", consume.kombu_lite_mixin),
        ]
    peers.update(large.peers(broker, smoke))
    cases = []
    for section, (_base, count) in SECTIONS.items():
        if (only and section not in only) or section not in peers:
            continue
        if smoke:
            count = min(count, 50)
        cases.extend(Case(section, peer, run, count) for peer, run in peers[section])
    return cases


#: kombu_lite's case of each section --profile can run.
PROFILED: dict[str, Run] = {
    "publish": amqp.kombu_lite_publish,
    "publish-transient": partial(amqp.kombu_lite_publish, persistent=False),
    "confirm-each": amqp.kombu_lite_confirm_each,
    "pipelined": amqp.kombu_lite_publish_many,
    "quorum": quorum.kombu_lite_publish_many,
    "consume": consume.kombu_lite_consume,
    "consume-ack": partial(consume.kombu_lite_consume, ack=True),
    "consume-mixin": consume.kombu_lite_mixin,
    "memory": local.kombu_lite_memory,
}


def profile(section: str, count: int, top: int) -> None:
    """Print cProfile's top lines for kombu_lite's case of ``section``."""
    run = PROFILED[section]
    run(min(count, 200))  # warm up imports and caches
    profiler = cProfile.Profile()
    if section.startswith("consume"):
        # Only the timed part: filling the queue is a publish.
        consume.PROFILER = profiler
        try:
            run(count)
        finally:
            consume.PROFILER = None
    else:
        profiler.enable()
        run(count)
        profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    """Parse the arguments, run the rounds, print the tables and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="x message counts")
    parser.add_argument("--import-repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny run, for CI")
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--out", help="write figures.json, figures.md and the plots in this directory"
    )
    parser.add_argument("--profile", choices=sorted(PROFILED))
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    broker = _broker_up(2.0 if args.smoke else 30.0)
    if args.profile:
        base_count = SECTIONS[args.profile][1]
        profile(args.profile, int(base_count * args.scale), args.top)
        return
    rounds = 1 if args.smoke else args.rounds
    repeats = 1 if args.smoke else args.import_repeats
    cases = build_cases(set(args.only or ()), args.smoke, repeats, broker)
    if not args.smoke:
        cases = [
            Case(c.section, c.peer, c.run, max(1, int(c.count * args.scale)))
            for c in cases
        ]
    if not broker:
        print("RabbitMQ is not reachable on 127.0.0.1:5672: broker sections skipped")
    if any(case.section.startswith("import") for case in cases):
        local.warm_bytecode_cache()
    print(
        f"python {sys.version.split()[0]}, body {local.dumps_size()} bytes of JSON, "
        f"{rounds} round(s), peers alternating"
    )
    start = output.run_start()
    try:
        results = run_rounds(cases, rounds)
    finally:
        if broker and (dropped := amqp.drop_leftovers()):
            print(f"deleted {dropped} queue(s) a failed case left on the broker")
    bases = {section: base for section, (base, _count) in SECTIONS.items()}
    figures = report(results, bases, TARGETS)
    figures["counts"] = {case.section: case.count for case in cases}
    figures["python"] = sys.version.split()[0]
    address = (amqp.HOST, amqp.PORT) if broker else None
    output.finish(figures, start, sys.argv, bases, address)
    text = json.dumps(figures, indent=2)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.out:
        output.write(figures, Path(args.out))
    if results.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
