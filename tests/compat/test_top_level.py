"""``import kombu``: the names kombu's package exports, from kombu's modules."""

from __future__ import annotations

import pytest

from .conftest import Lib

#: Top-level name -> the module kombu takes it from.
ORIGINS = {
    "Connection": "connection",
    "BrokerConnection": "connection",
    "Exchange": "entity",
    "Queue": "entity",
    "binding": "entity",
    "Message": "message",
    "Consumer": "messaging",
    "Producer": "messaging",
    "connections": "pools",
    "producers": "pools",
    "eventloop": "common",
    "uuid": "common",
    "enable_insecure_serializers": "serialization",
    "disable_insecure_serializers": "serialization",
}


@pytest.mark.parametrize("name", sorted(ORIGINS))
def test_top_level_name_is_its_modules(lib: Lib, name: str) -> None:
    assert getattr(lib.top, name) is lib.attr(ORIGINS[name], name)


@pytest.mark.parametrize("name", [*sorted(ORIGINS), "parse_url"])
def test_top_level_name_is_in_all(lib: Lib, name: str) -> None:
    assert name in lib.top.__all__


def test_parse_url_is_kombu_lites_url_parser(lib: Lib) -> None:
    module = "utils.url" if lib.is_kombu else "connection.url"
    assert lib.top.parse_url is lib.attr(module, "parse_url")


def test_parse_url_returns_kombus_dict(lib: Lib) -> None:
    parts = lib.top.parse_url("amqp://user:pass@broker:5673/vhost")
    assert dict(parts) == {
        "transport": "amqp",
        "hostname": "broker",
        "port": 5673,
        "userid": "user",
        "password": "pass",
        "virtual_host": "vhost",
    }


def test_parse_url_reads_as_a_dict_with_the_query_options(lib: Lib) -> None:
    parts = lib.top.parse_url("amqp://broker/vh?heartbeat=10")
    assert parts["hostname"] == "broker"
    assert parts.get("port") is None
    assert parts.get("nosuch", "fallback") == "fallback"
    assert float(parts["heartbeat"]) == 10
    with pytest.raises(KeyError):
        parts["nosuch"]


def test_insecure_serializers_can_be_enabled_and_disabled(lib: Lib) -> None:
    loads = lib.attr("serialization", "loads")
    content = lib.attr("serialization", "dumps")({"a": 1}, serializer="pickle")
    lib.top.enable_insecure_serializers(["pickle"])
    try:
        assert loads(content[2], content[0], content[1]) == {"a": 1}
    finally:
        lib.top.disable_insecure_serializers()
    with pytest.raises(lib.attr("exceptions", "ContentDisallowed")):
        loads(content[2], content[0], content[1])


def test_eventloop_from_the_top_drains_a_connection(lib: Lib) -> None:
    with lib.top.Connection("memory://") as conn:
        assert (
            list(lib.top.eventloop(conn, limit=1, timeout=0.05, ignore_timeouts=True))
            == []
        )
