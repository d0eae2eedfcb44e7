"""Redeclaring an exchange or queue: RabbitMQ's equivalence checks and their texts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kombu_lite.transport.memory.replies import (
    PRECONDITION_FAILED,
    amqp_type_name,
    channel_error,
    describe_value,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["check_arguments", "inequivalent"]


def check_arguments(
    current: Mapping[str, object],
    received: Mapping[str, object],
    compared: tuple[str, ...],
    where: str,
    method: str,
) -> None:
    """Refuse (406) a redeclare whose ``compared`` arguments differ."""
    for name in compared:
        old, new = current.get(name), received.get(name)
        if (name in current) == (name in received) and (
            amqp_type_name(old),
            old,
        ) == (amqp_type_name(new), new):
            continue
        if name in current and name in received:
            raise inequivalent(name, where, new, old, method)
        if name not in current:
            detail = f"received {_typed_value(new)} but current is none"
        else:
            detail = f"received none but current is {_typed_value(old)}"
        raise channel_error(
            PRECONDITION_FAILED,
            f"inequivalent arg '{name}' {where}: {detail}",
            method,
        )


def _typed_value(value: object) -> str:
    return f"the value '{describe_value(value)}' of type '{amqp_type_name(value)}'"


def inequivalent(
    name: str, where: str, received: object, current: object, method: str
) -> Exception:
    """The 406 for an argument or setting redeclared with another value."""
    return channel_error(
        PRECONDITION_FAILED,
        f"inequivalent arg '{name}' {where}: received '{describe_value(received)}' "
        f"but current is '{describe_value(current)}'",
        method,
    )
