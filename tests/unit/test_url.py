"""Broker URL parsing and masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kombu_lite.connection.url import format_url, mask_url, parse_url, split_failover
from kombu_lite.exceptions import InvalidURL


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://h", None),
        ("amqp://h/", "/"),
        ("amqp://h//", "/"),
        ("amqp://h/%2F", "/"),
        ("amqp://h/foo", "foo"),
        ("amqp://h//foo", "/foo"),
        ("amqp://h/foo%2Fbar", "foo/bar"),
    ],
)
def test_vhost_rules(url: str, vhost: str | None) -> None:
    assert parse_url(url).virtual_host == vhost


def test_full_url_parts_are_percent_decoded() -> None:
    url = parse_url("amqps://us%40er:p%23ss%2Fw@rabbit.local:5671/v%20h")

    assert url.transport == "amqps"
    assert (url.hostname, url.port) == ("rabbit.local", 5671)
    assert (url.userid, url.password) == ("us@er", "p#ss/w")
    assert url.virtual_host == "v h"


def test_bare_scheme_has_no_parts() -> None:
    url = parse_url("amqp://")

    assert (url.hostname, url.port, url.userid, url.password) == (None,) * 4


def test_ipv6_host_and_port() -> None:
    url = parse_url("amqp://[::1]:5673//")

    assert (url.hostname, url.port) == ("::1", 5673)


def test_query_options_are_converted() -> None:
    url = parse_url("amqp://h/?heartbeat=10&connect_timeout=3&login_method=AMQPLAIN")

    assert url.query == {
        "heartbeat": 10.0,
        "connect_timeout": 3.0,
        "login_method": "AMQPLAIN",
    }


def test_unknown_query_option_is_refused_by_name() -> None:
    with pytest.raises(InvalidURL, match="'colour'"):
        parse_url("amqp://h/?colour=blue")


def test_non_numeric_query_option_is_refused() -> None:
    with pytest.raises(InvalidURL, match="heartbeat"):
        parse_url("amqp://h/?heartbeat=often")


@pytest.mark.parametrize(
    "query",
    [
        "heartbeat=-1",
        "heartbeat=inf",
        "connect_timeout=0",
        "connect_timeout=-2",
        "connect_timeout=nan",
    ],
)
def test_out_of_range_seconds_in_the_query_are_refused(query: str) -> None:
    key = query.partition("=")[0]
    with pytest.raises(InvalidURL, match=f"'{key}' must be a number of seconds"):
        parse_url(f"amqp://h/?{query}")


def test_heartbeat_zero_in_the_query_turns_heartbeats_off() -> None:
    assert parse_url("amqp://h/?heartbeat=0").query == {"heartbeat": 0.0}


@pytest.mark.parametrize("password", ["se#cret", "se?cret", "se/cret", "a/b?c#d"])
def test_unencoded_delimiters_in_the_password_never_leak(password: str) -> None:
    with pytest.raises(InvalidURL) as info:
        parse_url(f"amqp://user:{password}@host:5672//")

    assert password not in str(info.value)
    assert "secret" not in str(info.value).replace("**", "")


def test_bad_port_error_does_not_echo_the_port_text() -> None:
    with pytest.raises(InvalidURL) as info:
        parse_url("amqp://user:hunter2:x@host:99999//")

    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("text", ["", "localhost", "://h", 42])
def test_malformed_urls_raise_invalid_url(text: object) -> None:
    with pytest.raises(InvalidURL):
        parse_url(text)  # type: ignore[arg-type]


def test_unterminated_ipv6_is_refused() -> None:
    with pytest.raises(InvalidURL, match="IPv6"):
        parse_url("amqp://[::1:5672//")


def test_mask_url_hides_the_password() -> None:
    assert mask_url("amqp://u:p@h//") == "amqp://u:**@h//"
    assert mask_url("amqp://u@h//") == "amqp://u@h//"
    assert mask_url("amqp://h//") == "amqp://h//"
    assert mask_url("u:p@h") == "u:**@h"


def test_split_failover_drops_blank_parts() -> None:
    assert split_failover("amqp://a; amqp://b;;") == ["amqp://a", "amqp://b"]


def test_format_url_masks_unless_asked() -> None:
    args = ("amqp", "h", 5672, "u", "p w", "/")
    assert format_url(*args) == "amqp://u:**@h:5672//"
    assert format_url(*args, include_password=True) == "amqp://u:p%20w@h:5672//"


def test_format_memory_url() -> None:
    assert format_url("memory", "localhost", 0, "guest", "guest", "/") == "memory://"
    assert format_url("memory", "localhost", 0, None, None, "v") == "memory:///v"


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    min_size=1,
    max_size=20,
)


@given(user=_text, password=_text, vhost=_text)
def test_format_then_parse_round_trips(user: str, password: str, vhost: str) -> None:
    text = format_url("amqp", "h", 5672, user, password, vhost, include_password=True)

    url = parse_url(text)

    assert (url.userid, url.password, url.virtual_host) == (user, password, vhost)


@given(password=_text)
def test_masked_url_never_contains_the_password(password: str) -> None:
    text = f"amqp://user:{password}@host:5672//"
    masked = mask_url(text)
    assert masked.startswith("amqp://user:**@")
