"""No error, repr or CLI line shows a URL's password, whatever the URL's shape."""

from __future__ import annotations

import contextlib
import io
import socket
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kombu_lite import Connection
from kombu_lite.cli import main
from kombu_lite.connection.url import parse_url
from kombu_lite.exceptions import ConfigurationError, InvalidURL, KombuError

SECRET = "MyS3cretPw"


@pytest.mark.parametrize(
    "url",
    [
        f"amqp://guest:{SECRET}",
        f"amqp://guest:{SECRET}/",
        f"amqp://guest:{SECRET}//",
        f"amqp://guest:{SECRET}/vhost?heartbeat=5",
        f"amqp://guest:{SECRET}#frag",
        f"amqp://guest:{SECRET}?heartbeat=5",
        f"amqp://[::1]:{SECRET}/",
        f"amqp://[guest:{SECRET}",
        f"guest:{SECRET}",
    ],
)
def test_url_without_a_host_never_shows_the_password(url: str) -> None:
    with pytest.raises(InvalidURL) as info:
        Connection(url)

    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_a_password_of_digits_in_place_of_a_port_is_not_shown() -> None:
    with pytest.raises(InvalidURL, match="port") as info:
        Connection("amqp://guest:12345678")

    assert "12345678" not in str(info.value)


def test_url_without_a_host_says_where_the_password_goes() -> None:
    with pytest.raises(InvalidURL, match=r"port.*user:password@host"):
        Connection(f"amqp://guest:{SECRET}")


@pytest.mark.parametrize(
    "port", ["²", "٣", "\uff15\uff16\uff17\uff12", "56²", "1_0", "+5", " 5"], ids=ascii
)
def test_only_ascii_digits_make_a_url_port(port: str) -> None:
    with pytest.raises(InvalidURL, match="port must be a number"):
        parse_url(f"amqp://guest:pw@host:{port}/")


@pytest.mark.parametrize("port", ["٣", "\uff15\uff16\uff17\uff12", "²"], ids=ascii)
def test_only_ascii_digits_make_a_port_argument(port: str) -> None:
    with pytest.raises(ConfigurationError, match="port must be a number"):
        Connection("amqp://host//", port=port)


#: Pieces of URLs, good and bad, put together in any order.
_url_pieces = st.one_of(
    st.sampled_from(
        [
            *("amqp://", "u", ":", "@", "/", "?", "#", "[", "]", "%", ";"),
            *("²", "٣", "5", "heartbeat=", "connect_timeout=", "&", "1e300", "nan"),
        ]
    ),
    st.text(max_size=3),
)


@settings(max_examples=500)
@given(st.sampled_from(["amqp://", ""]), st.lists(_url_pieces, max_size=8).map("".join))
def test_parse_url_raises_nothing_but_invalid_url(scheme: str, rest: str) -> None:
    text = scheme + rest
    with contextlib.suppress(InvalidURL):
        parse_url(text)


# -- whatever the URL ----------------------------------------------------------------

#: Starts every generated password: no message, host or user contains it, so
#: finding it in a text means the password leaked.
_MARK = "Zq7"

_chars = st.characters(codec="utf-8", exclude_categories=["Cs"])
_passwords = st.builds(lambda rest: _MARK + rest, st.text(_chars, max_size=12))
_users = st.text(st.characters(codec="ascii", categories=["Ll"]), max_size=6)
_tails = st.sampled_from(["", "/", "//", "/vh", "/?heartbeat=5", "?x=1", "#f", ";"])
_schemes = st.sampled_from(["amqp", "amqps", "pyamqp", "memory", "nope"])


def _urls(port: int) -> st.SearchStrategy[tuple[str, str]]:
    """``(url, password)``: the password raw or encoded, with or without a host."""

    def build(
        scheme: str, user: str, password: str, encode: bool, host: bool, tail: str
    ) -> tuple[str, str]:
        written = quote(password, safe="") if encode else password
        where = f"@127.0.0.1:{port}" if host else ""
        return f"{scheme}://{user}:{written}{where}{tail}", password

    return st.builds(
        build, _schemes, _users, _passwords, st.booleans(), st.booleans(), _tails
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_CLOSED_PORT = _free_port()


def _hidden(password: str, *texts: str) -> bool:
    # The password as written, and as a URL decodes it.
    return not any(
        secret in text for secret in {password, unquote(password)} for text in texts
    )


@settings(max_examples=300, deadline=None)
@given(_urls(_CLOSED_PORT))
def test_no_error_or_repr_shows_the_password(case: tuple[str, str]) -> None:
    url, password = case

    assert _hidden(password, *_what_is_shown(url))


def _what_is_shown(url: str) -> tuple[str, ...]:
    """The error's texts, or the new Connection's."""
    try:
        connection = Connection(url)
    except KombuError as exc:
        return str(exc), repr(exc)
    return repr(connection), str(connection), connection.as_uri()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=_urls(_CLOSED_PORT))
def test_no_cli_output_shows_the_password(case: tuple[str, str]) -> None:
    url, password = case
    # The host, when there is one, is a closed loopback port: the command
    # fails fast, and its error is what is checked.
    assume(not url.startswith("memory:"))
    stdout, stderr = io.StringIO(), io.StringIO()

    code = main(
        ["get", "--url", url, "-v", "q"],
        stdin=io.StringIO(""),  # type: ignore[arg-type]
        stdout=stdout,
        stderr=stderr,
    )

    assert code != 0
    assert "Traceback" not in stderr.getvalue()
    assert _hidden(password, stdout.getvalue(), stderr.getvalue())
