"""Message.death and Message.delivery_count: parsing RabbitMQ's headers.

``CAPTURED`` is a message's headers as kombu_lite received them from RabbitMQ
3.10.8 after a reject (requeue=False) into a dead-letter queue, twice (the
broker-side capture is tests/behaviour/test_dead_lettering.py).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from kombu_lite.message import DeathRecord, Message

CAPTURED: dict[str, Any] = {
    "x-death": [
        {
            "count": 2,
            "exchange": "",
            "original-expiration": "60000",
            "queue": "entqprobe-e6b8e9-work",
            "reason": "rejected",
            "routing-keys": ["entqprobe-e6b8e9-work"],
            "time": datetime(2026, 12, 6, 4, 15, 35),
        }
    ],
    "x-first-death-exchange": "",
    "x-first-death-queue": "entqprobe-e6b8e9-work",
    "x-first-death-reason": "rejected",
}


def _message(**headers: object) -> Message:
    return Message(b"{}", content_type="application/json", headers=headers)


def test_a_captured_x_death_header_is_read_field_by_field() -> None:
    (record,) = _message(**CAPTURED).death

    assert record == DeathRecord(
        queue="entqprobe-e6b8e9-work",
        reason="rejected",
        count=2,
        exchange="",
        routing_keys=("entqprobe-e6b8e9-work",),
        time=datetime(2026, 12, 6, 4, 15, 35, tzinfo=UTC),
        original_expiration="60000",
    )


def test_records_are_frozen() -> None:
    (record,) = _message(**CAPTURED).death

    with pytest.raises(dataclasses.FrozenInstanceError):
        record.count = 3  # type: ignore[misc]


def test_a_message_never_dead_lettered_has_no_deaths() -> None:
    assert _message().death == []


def test_records_keep_the_header_order_latest_first() -> None:
    header = [
        {"queue": "delay", "reason": "expired", "count": 1},
        {"queue": "work", "reason": "rejected", "count": 1},
    ]

    assert [d.queue for d in _message(**{"x-death": header}).death] == [
        "delay",
        "work",
    ]


def test_optional_fields_default_when_absent() -> None:
    (record,) = _message(
        **{"x-death": [{"queue": "q", "reason": "maxlen", "count": 1}]}
    ).death

    assert (
        record.exchange,
        record.routing_keys,
        record.time,
        record.original_expiration,
    ) == ("", (), None, None)


def test_bytes_text_and_epoch_times_are_read() -> None:
    header = [
        {
            "queue": b"q",
            "reason": b"expired",
            "count": 1,
            "exchange": b"ex",
            "routing-keys": [b"a", "b", 5],
            "time": 0,
        }
    ]

    (record,) = _message(**{"x-death": header}).death

    assert (record.queue, record.reason, record.exchange) == ("q", "expired", "ex")
    assert record.routing_keys == ("a", "b")
    assert record.time == datetime(1970, 1, 1, tzinfo=UTC)


def test_an_aware_time_is_kept() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    header = [{"queue": "q", "reason": "expired", "count": 1, "time": moment}]

    assert _message(**{"x-death": header}).death[0].time == moment


@pytest.mark.parametrize("time", ["yesterday", 10**20, True])
def test_an_unreadable_time_reads_as_none(time: object) -> None:
    header = [{"queue": "q", "reason": "expired", "count": 1, "time": time}]

    assert _message(**{"x-death": header}).death[0].time is None


@pytest.mark.parametrize("value", ["rejected", 3, {"queue": "q"}])
def test_a_header_that_is_not_a_list_is_ignored_and_logged(
    value: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kombu_lite.message"):
        assert _message(**{"x-death": value}).death == []

    assert "x-death header that is not a list" in caplog.text


@pytest.mark.parametrize(
    "entry",
    [
        "rejected",
        {"reason": "rejected", "count": 1},
        {"queue": "q", "count": 1},
        {"queue": "q", "reason": "rejected"},
        {"queue": "q", "reason": "rejected", "count": "1"},
        {"queue": "q", "reason": "rejected", "count": True},
        {"queue": "q", "reason": "rejected", "count": -1},
        {"queue": 5, "reason": "rejected", "count": 1},
    ],
)
def test_a_malformed_entry_is_left_out_and_logged(
    entry: object, caplog: pytest.LogCaptureFixture
) -> None:
    header = [entry, {"queue": "good", "reason": "expired", "count": 1}]

    with caplog.at_level(logging.WARNING, logger="kombu_lite.message"):
        records = _message(**{"x-death": header}).death

    assert [r.queue for r in records] == ["good"]
    assert "ignoring x-death entry 0" in caplog.text


def test_delivery_count_is_read_from_its_header() -> None:
    assert _message(**{"x-delivery-count": 2}).delivery_count == 2


def test_delivery_count_is_zero_without_its_header() -> None:
    assert _message().delivery_count == 0


@pytest.mark.parametrize("value", ["2", -1, True, 1.5])
def test_an_invalid_delivery_count_reads_as_zero_and_is_logged(
    value: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kombu_lite.message"):
        assert _message(**{"x-delivery-count": value}).delivery_count == 0

    assert "invalid x-delivery-count" in caplog.text
