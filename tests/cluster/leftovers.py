"""Find and delete what tests left on the developer's broker on 5672.

The node's own ``rabbitmqctl`` lists queues, exchanges and vhosts (AMQP
cannot list them); anything whose name holds the session's mark is deleted
over AMQP (vhosts with ``rabbitmqctl delete_vhost``).  Nothing else on the
node is touched.  Where ``rabbitmqctl`` cannot reach the node (a laptop
without the tool, another user's node), nothing is swept.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess

import amqp

__all__ = ["sweep_leftovers"]

_LISTS = {
    "queue": ("list_queues", "-p", "/", "--silent", "--no-table-headers", "name"),
    "exchange": ("list_exchanges", "-p", "/", "--silent", "--no-table-headers", "name"),
    "vhost": ("list_vhosts", "--silent", "--no-table-headers", "name"),
}


def _listed(ctl: str, args: tuple[str, ...]) -> list[str]:
    try:
        done = subprocess.run(
            [ctl, *args], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def sweep_leftovers(mark: str) -> list[str]:
    """Delete queues, exchanges and vhosts whose name holds ``mark``.

    Returns what was deleted, as ``"queue NAME"`` strings.
    """
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return []
    found = {
        kind: [name for name in _listed(ctl, args) if mark in name]
        for kind, args in _LISTS.items()
    }
    if not any(found.values()):
        return []
    swept: list[str] = []
    if found["queue"] or found["exchange"]:
        with contextlib.suppress(OSError, amqp.AMQPError):
            conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
            conn.connect()
            try:
                for kind in ("queue", "exchange"):
                    for name in found[kind]:
                        channel = conn.channel()
                        with contextlib.suppress(amqp.AMQPError):
                            if kind == "queue":
                                channel.queue_delete(name)
                            else:
                                channel.exchange_delete(name)
                            swept.append(f"{kind} {name}")
                        with contextlib.suppress(amqp.AMQPError, OSError):
                            channel.close()
            finally:
                conn.close()
    for name in found["vhost"]:
        done = subprocess.run(
            [ctl, "delete_vhost", name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0:
            swept.append(f"vhost {name}")
    return swept
