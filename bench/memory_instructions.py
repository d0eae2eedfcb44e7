"""Client instructions per memory:// round trip, counted by callgrind.

The same differential method as ``consume_instructions.py``: for each
peer this runs ``small`` and then ``large`` publish + consume round trips
on its ``memory://`` transport under ``valgrind --tool=callgrind`` and
reports ``(I(large) - I(small)) / (large - small)``: the interpreter's
start-up, the imports and the connection cancel out.  The loop is the one
of the ``memory`` section of ``run.py`` (``local_cases``): publish with
``declare=[queue]`` a thousand at a time, then drain them to a ``no_ack``
consumer.

    python bench/memory_instructions.py                 # both peers
    python bench/memory_instructions.py kombu_lite
    python bench/memory_instructions.py --small 2000 --large 6000

Needs valgrind; no broker.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from amqp_cases import BODY
from harness import callgrind_instructions

PEERS = ("kombu_lite", "kombu")


def round_trips(peer: str, count: int) -> None:
    """Run ``count`` round trips on ``peer``'s memory:// (under valgrind)."""
    import local_cases

    case = (
        local_cases.kombu_lite_memory
        if peer == "kombu_lite"
        else local_cases.kombu_memory
    )
    case(count)


def _instructions(peer: str, count: int) -> int:
    """Instructions of one run of ``count`` round trips."""
    return callgrind_instructions([__file__, "--run", peer, str(count)])


def main() -> None:
    """Parse the arguments; count, or (``--run``) be the counted process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peers", nargs="*", default=list(PEERS))
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        peer, count = args.peers
        round_trips(peer, int(count))
        return
    print(f"body {len(json.dumps(BODY))} bytes of JSON, declare=[queue], no_ack")
    counts: dict[str, float] = {}
    for peer in args.peers:
        small = _instructions(peer, args.small)
        large = _instructions(peer, args.large)
        per = (large - small) / (args.large - args.small)
        counts[peer] = per
        print(f"  {peer:<14}{per:>12,.0f} instructions/round trip", flush=True)
    if "kombu_lite" in counts and "kombu" in counts:
        print(f"  kombu / kombu_lite: {counts['kombu'] / counts['kombu_lite']:.2f}x")


if __name__ == "__main__":
    main()
