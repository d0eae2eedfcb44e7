"""``kombu.connection.Connection``: info(), switch(), copies, options, errors.

Each test body runs against kombu_lite and kombu; where kombu_lite
deliberately differs (listed on docs/migrating.rst) the test says which
way each library goes.
"""

from __future__ import annotations

import copy
import ssl
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Lib

INFO_KEYS = {
    "hostname",
    "userid",
    "password",
    "virtual_host",
    "port",
    "insist",
    "ssl",
    "transport",
    "connect_timeout",
    "transport_options",
    "login_method",
    "uri_prefix",
    "heartbeat",
    "failover_strategy",
    "alternates",
    "credential_provider",
}


def test_info_has_kombus_keys(lib: Lib) -> None:
    info = lib.top.Connection("amqp://user:secret@host:5673/vhost").info()

    assert set(info) == INFO_KEYS
    assert (info["hostname"], info["userid"], info["port"]) == ("host", "user", 5673)
    assert (info["virtual_host"], info["transport"]) == ("vhost", "amqp")
    assert info["alternates"] == []


def test_info_masks_the_password(lib: Lib) -> None:
    info = lib.top.Connection("amqp://user:secret@host//").info()

    # kombu shows it in clear; kombu_lite never does (docs/migrating.rst).
    assert info["password"] == ("secret" if lib.is_kombu else "**")


@pytest.mark.parametrize(
    ("url", "transport"),
    [("amqp://h//", "amqp"), ("pyamqp://h//", "amqp"), ("amqps://h//", "amqps")],
)
def test_info_transport_resolves_aliases(lib: Lib, url: str, transport: str) -> None:
    assert lib.top.Connection(url).info()["transport"] == transport


@pytest.mark.parametrize(
    ("url", "transport_cls"),
    [("amqp://h//", "amqp"), ("pyamqp://h//", "pyamqp"), ("memory://", "memory")],
)
def test_transport_cls_is_the_scheme(lib: Lib, url: str, transport_cls: str) -> None:
    assert lib.top.Connection(url).transport_cls == transport_cls


def test_transport_argument_sets_transport_cls(lib: Lib) -> None:
    assert lib.top.Connection("h", transport="memory").transport_cls == "memory"


def test_empty_credentials_mean_kombus_defaults(lib: Lib) -> None:
    connection = lib.top.Connection("amqp://:@/")

    assert connection.as_uri() == "amqp://guest:**@localhost:5672//"
    info = connection.info()
    assert (info["userid"], info["hostname"], info["port"]) == (
        "guest",
        "localhost",
        5672,
    )


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_a_copy_is_an_unconnected_clone(lib: Lib, copier: Any) -> None:
    connection = lib.top.Connection("memory://")
    connection.connect()
    try:
        clone = copier(connection)

        assert clone is not connection
        assert type(clone) is type(connection)
        assert not clone.connected
        assert clone.as_uri() == connection.as_uri()
    finally:
        connection.release()


def test_a_deep_copy_can_talk_to_the_same_memory_broker(lib: Lib) -> None:
    connection = lib.top.Connection("memory://")
    with connection.SimpleQueue("compat-copy") as queue:
        queue.put({"n": 1})
    clone = copy.deepcopy(connection)
    try:
        with clone.SimpleQueue("compat-copy") as queue:
            message = queue.get(timeout=1)
            assert message.payload == {"n": 1}
            message.ack()
    finally:
        clone.release()
        connection.release()


def test_switch_to_a_host_name_keeps_the_credentials(lib: Lib) -> None:
    connection = lib.top.Connection("amqp://u:p@h1:5672//")

    connection.switch("h2")

    assert connection.hostname == "h2"
    assert connection.as_uri(include_password=True) == "amqp://u:p@h2:5672//"
    assert not connection.connected


def test_switch_to_a_url(lib: Lib) -> None:
    connection = lib.top.Connection("amqp://u:p@h1//")

    connection.switch("amqp://x:y@h3:5673/vv")

    assert connection.as_uri(include_password=True) == "amqp://x:y@h3:5673/vv"


def test_switch_reconnects_on_next_use(lib: Lib, rabbitmq: str) -> None:
    connection = lib.top.Connection("amqp://guest:guest@127.0.0.1:1//")
    try:
        connection.switch(rabbitmq)
        connection.connect()

        assert connection.connected
        assert connection.port == 5672
    finally:
        connection.release()


def test_a_callable_password_is_called_at_each_connect(lib: Lib, rabbitmq: str) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return "guest"

    # Without a password in the URL: kombu's URL password wins over it.
    host = urlsplit(rabbitmq).netloc.rpartition("@")[2]
    connection = lib.top.Connection(f"amqp://{host}//", userid="guest", password=token)
    assert calls == []
    try:
        connection.connect()
        assert connection.connected
        connection.release()
        connection.connect()
        assert len(calls) == 2
    finally:
        connection.release()


def test_a_callable_password_is_kept_as_the_attribute(lib: Lib) -> None:
    def token() -> str:
        return "tok"

    connection = lib.top.Connection("amqp://h//", password=token)

    assert connection.password is token
    assert connection.as_uri(include_password=True) == "amqp://guest:tok@h:5672//"
    assert "tok" not in repr(connection)


def test_a_callable_password_is_called_on_the_memory_transport_too(
    lib: Lib,
) -> None:
    connection = lib.top.Connection("memory://", password=lambda: "tok")
    try:
        connection.connect()
        assert connection.connected
    finally:
        connection.release()


@pytest.mark.parametrize(
    "key", ["max_retries", "interval_start", "interval_step", "interval_max"]
)
def test_transport_options_accept_kombus_retry_keys(lib: Lib, key: str) -> None:
    connection = lib.top.Connection("memory://", transport_options={key: 1})

    assert connection.transport_options[key] == 1


def test_ensure_connection_retries_as_transport_options_say(lib: Lib) -> None:
    operational = lib.attr("exceptions", "OperationalError")
    seen: list[float] = []
    connection = lib.top.Connection(
        "amqp://guest:guest@127.0.0.1:1//",
        connect_timeout=1,
        transport_options={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.01,
            "interval_max": 0.01,
        },
    )

    if lib.is_kombu:
        # kombu reads the keys only in default_channel's connect loop.
        with pytest.raises(operational):
            connection.ensure_connection(
                errback=lambda exc, interval: seen.append(interval),
                max_retries=2,
                interval_start=0,
                interval_step=0.01,
                interval_max=0.01,
            )
    else:
        with pytest.raises(operational):
            connection.ensure_connection(
                errback=lambda exc, interval: seen.append(interval)
            )
    assert seen == [0, 0.01]


@pytest.mark.parametrize("value", [None, False])
def test_ssl_none_and_false_mean_no_tls(lib: Lib, value: bool | None) -> None:
    connection = lib.top.Connection("amqp://h//", ssl=value)

    assert not connection.ssl
    assert connection.info()["port"] == 5672
    assert connection.as_uri().startswith("amqp://")


def test_ssl_none_connects_in_clear(lib: Lib, rabbitmq: str) -> None:
    connection = lib.top.Connection(rabbitmq, ssl=None)
    try:
        connection.connect()
        assert connection.connected
    finally:
        connection.release()


@pytest.mark.parametrize(
    "value", [True, {"cert_reqs": ssl.CERT_REQUIRED}, ssl.create_default_context()]
)
def test_ssl_true_a_dict_or_a_context_mean_tls(lib: Lib, value: object) -> None:
    connection = lib.top.Connection("amqp://h//", ssl=value)

    assert connection.ssl is value
    assert connection.info()["port"] == 5671


def test_an_unknown_scheme_raises_a_key_error_at_construction(lib: Lib) -> None:
    unknown = lib.top.Connection
    with pytest.raises(KeyError) as info:
        unknown("nosuch://host/")
    assert "nosuch" in str(info.value)
    if not lib.is_kombu:
        assert str(info.value).startswith("unknown transport 'nosuch'")
