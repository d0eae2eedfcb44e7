"""py-amqp's property dicts read as BasicProperties, on every path.

The common dicts (nothing to convert, or only the headers to rename) take
a quicker path than the rest: each path must give the same answer.
"""

from __future__ import annotations

import datetime

from kombu_lite.transport.base import BasicProperties
from kombu_lite.transport.pyamqp._messages import properties_from


def test_plain_properties_are_taken_as_they_are() -> None:
    raw = {"content_type": "application/json", "delivery_mode": 2, "priority": 0}

    assert properties_from(raw) == BasicProperties(
        content_type="application/json", delivery_mode=2, priority=0
    )


def test_application_headers_become_headers() -> None:
    raw = {"content_type": "text/plain", "application_headers": {"k": 1}}

    assert properties_from(raw) == BasicProperties(
        content_type="text/plain", headers={"k": 1}
    )


def test_a_timestamp_becomes_seconds_and_unknown_names_are_dropped() -> None:
    stamp = datetime.datetime(2025, 1, 2, 3, 4, 5)
    raw = {"timestamp": stamp, "application_headers": {}, "unknown": 1}

    assert properties_from(raw) == BasicProperties(
        timestamp=int(stamp.replace(tzinfo=datetime.UTC).timestamp()), headers={}
    )


def test_as_dict_keeps_only_the_set_properties() -> None:
    props = BasicProperties(content_type="a", priority=0, headers={})

    assert props.as_dict() == {"content_type": "a", "priority": 0, "headers": {}}
