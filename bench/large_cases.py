"""Large bodies: the client's peak memory to publish and to receive one body.

Each case runs in fresh interpreters (one per phase on ``amqp://``, one
for both phases on ``memory://``, whose broker lives in the process), so
nothing the benchmark process or an earlier case allocated counts.  A
phase starts by resetting the kernel's peak RSS (``/proc/self/clear_refs``)
and reading it as its baseline, with the connection already open and a
small message already sent or received; its figure is the peak
(``VmHWM``) above that baseline when the phase ends.

* publish: the body (``b"\\x01" * size``, every page touched) is made
  after the baseline, then published unconfirmed as
  ``application/octet-stream`` bytes to a non-durable queue; the body
  itself is one copy.
* receive: a ``no_ack`` consumer takes the message and reads
  ``message.body`` (an ``on_message`` handler: no decoding); the bytes
  handed out are one copy.  On ``memory://`` the baseline is the one
  taken before the body was made (the broker's queue holds the body
  meanwhile), so the body counts once there too.

``copies`` is the peak above the baseline over the body size: 1.0 is the
body alone.  Run on its own for a quick table::

    python bench/large_cases.py --size-mib 128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amqp_cases import HOST, NAMES, PORT, URL

if TYPE_CHECKING:
    from harness import Metrics

#: The body size of a full run, in MiB (the section's count).
BODY_MIB = 128
#: The body size of a ``--smoke`` run: a few frames' worth.
SMOKE_SIZE = 2 << 20
_MIB = 1 << 20
_CONTENT = {
    "content_type": "application/octet-stream",
    "content_encoding": "binary",
}


# -- in the child ------------------------------------------------------------------


def _peak_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line[:6] == "VmHWM:")


def _reset_peak() -> int:
    """Reset the peak RSS to the current RSS and return it (KiB)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _peak_kib()


def _library(peer: str) -> Any:
    if peer.startswith("kombu_lite"):
        import kombu_lite

        return kombu_lite
    import kombu

    return kombu


def _publish_phase(lib: Any, conn: Any, queue: str, size: int) -> float:
    """Publish one body of ``size`` bytes; returns the peak above baseline."""
    producer = lib.Producer(conn.default_channel, routing_key=queue)
    producer.publish(b"warm", routing_key=f"{queue}-nowhere", **_CONTENT)
    baseline = _reset_peak()
    body = b"\x01" * size
    producer.publish(body, **_CONTENT)
    return (_peak_kib() - baseline) * 1024 / size


def _receive_phase(
    lib: Any, conn: Any, queue: str, size: int, baseline: int | None
) -> float:
    """Take the one message of ``queue``; returns the peak above baseline."""
    got: list[bytes] = []

    def on_message(message: Any) -> None:
        got.append(message.body)

    consumer = lib.Consumer(
        conn.default_channel,
        queues=[lib.Queue(queue, durable=False)],
        on_message=on_message,
        no_ack=True,
    )
    if baseline is None:
        baseline = _reset_peak()
    with consumer:
        while not got:
            conn.drain_events(timeout=60)
    body = got[0]
    if type(body) is not bytes or len(body) != size:
        raise AssertionError(f"received {type(body).__name__} of {len(body)} bytes")
    return (_peak_kib() - baseline) * 1024 / size


def child(peer: str, phase: str, queue: str, size: int) -> dict[str, float]:
    """Run one phase of one peer in this interpreter (see the module doc)."""
    lib = _library(peer)
    if peer.endswith("memory://"):
        with lib.Connection("memory://") as conn:
            lib.Queue(queue, durable=False)(conn.default_channel).declare()
            producer = lib.Producer(conn.default_channel, routing_key=queue)
            producer.publish(b"warm", routing_key=f"{queue}-nowhere", **_CONTENT)
            baseline = _reset_peak()
            body = b"\x01" * size
            producer.publish(body, **_CONTENT)
            published = (_peak_kib() - baseline) * 1024 / size
            del body
            _reset_peak()
            received = _receive_phase(lib, conn, queue, size, baseline)
        return {"publish": published, "receive": received}
    with lib.Connection(URL) as conn:
        conn.connect()
        if phase == "publish":
            return {"publish": _publish_phase(lib, conn, queue, size)}
        return {"receive": _receive_phase(lib, conn, queue, size, None)}


# -- in the benchmark -------------------------------------------------------------


def _spawn(peer: str, phase: str, queue: str, size: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", peer, phase, queue, str(size)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output.splitlines()[-1]))


def _declare(queue: str) -> None:
    import amqp

    conn = amqp.Connection(f"{HOST}:{PORT}", userid="guest", password="guest")
    conn.connect()
    try:
        conn.channel().queue_declare(queue, durable=False, auto_delete=False)
    finally:
        conn.close()


def _delete(queue: str) -> None:
    import amqp

    conn = amqp.Connection(f"{HOST}:{PORT}", userid="guest", password="guest")
    conn.connect()
    try:
        conn.channel().queue_delete(queue)
    finally:
        conn.close()


def _metrics(copies: dict[str, float], size: int) -> Metrics:
    metrics: Metrics = {}
    for phase in ("publish", "receive"):
        metrics[f"{phase} peak MiB"] = copies[phase] * size / _MIB
        metrics[f"{phase} copies"] = copies[phase]
    return metrics


def case(peer: str, size: int | None = None) -> Any:
    """A case of the section: ``run(count)`` with ``count`` the body MiB.

    ``size`` (bytes), if given, is used instead of ``count`` (``--smoke``).
    """

    def run(count: int) -> Metrics:
        body_size = size if size is not None else count * _MIB
        queue = f"large-{uuid.uuid4().hex[:10]}"
        if peer.endswith("memory://"):
            return _metrics(_spawn(peer, "both", queue, body_size), body_size)
        NAMES.append(queue)  # deleted by the run's last resort too
        _declare(queue)
        try:
            copies = _spawn(peer, "publish", queue, body_size)
            copies |= _spawn(peer, "receive", queue, body_size)
        finally:
            _delete(queue)
        return _metrics(copies, body_size)

    return run


#: The peers of the section, amqp:// ones only with a broker.
AMQP_PEERS = ("kombu_lite amqp://", "kombu amqp://")
MEMORY_PEERS = ("kombu_lite memory://",)


def peers(broker: bool, smoke: bool) -> dict[str, list[tuple[str, Any]]]:
    """``{"large": [(peer, run), ...]}`` for run.py's ``build_cases``."""
    size = SMOKE_SIZE if smoke else None
    names = (AMQP_PEERS if broker else ()) + MEMORY_PEERS
    return {"large": [(name, case(name, size)) for name in names]}


def main() -> None:
    """Print the copies of every peer for one body size (or run a child)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        peer, phase, queue, size = sys.argv[2:6]
        print(json.dumps(child(peer, phase, queue, int(size))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=BODY_MIB)
    parser.add_argument("--peer", action="append", choices=AMQP_PEERS + MEMORY_PEERS)
    args = parser.parse_args()
    size = int(args.size_mib * _MIB)
    for name in args.peer or AMQP_PEERS + MEMORY_PEERS:
        figures = case(name, size)(0)
        print(
            f"{name:24} "
            + "  ".join(f"{key} {value:.2f}" for key, value in figures.items())
        )


if __name__ == "__main__":
    main()
