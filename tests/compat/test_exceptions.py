"""``kombu.exceptions``: names, hierarchy, ``TimeoutError`` and ``reraise``."""

from __future__ import annotations

import socket
import sys
from typing import Any

import pytest

from .conftest import Lib

NAMES = [
    "reraise",
    "KombuError",
    "OperationalError",
    "BatchPublishError",
    "NotBoundError",
    "MessageStateError",
    "TimeoutError",
    "LimitExceeded",
    "ConnectionLimitExceeded",
    "ChannelLimitExceeded",
    "ConnectionError",
    "ChannelError",
    "VersionMismatch",
    "SerializerNotInstalled",
    "ResourceError",
    "SerializationError",
    "EncodeError",
    "DecodeError",
    "HttpError",
    "InconsistencyError",
    "ContentDisallowed",
]


@pytest.mark.parametrize("name", NAMES)
def test_kombus_names_are_there(lib: Lib, name: str) -> None:
    assert hasattr(lib.module("exceptions"), name)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        ("OperationalError", "KombuError"),
        ("BatchPublishError", "KombuError"),
        ("SerializationError", "KombuError"),
        ("EncodeError", "SerializationError"),
        ("DecodeError", "SerializationError"),
        ("NotBoundError", "KombuError"),
        ("MessageStateError", "KombuError"),
        ("LimitExceeded", "KombuError"),
        ("ConnectionLimitExceeded", "LimitExceeded"),
        ("ChannelLimitExceeded", "LimitExceeded"),
        ("VersionMismatch", "KombuError"),
        ("SerializerNotInstalled", "KombuError"),
        ("ContentDisallowed", "SerializerNotInstalled"),
        ("InconsistencyError", "ConnectionError"),
        ("ResourceError", "ConnectionError"),
    ],
)
def test_hierarchy_is_kombus(lib: Lib, child: str, parent: str) -> None:
    exceptions = lib.module("exceptions")
    assert issubclass(getattr(exceptions, child), getattr(exceptions, parent))


def test_timeout_error_is_pythons_which_socket_timeout_is(lib: Lib) -> None:
    assert lib.module("exceptions").TimeoutError is TimeoutError
    assert socket.timeout is TimeoutError


def test_drain_events_timeout_is_catchable_as_timeout_error(lib: Lib) -> None:
    with lib.top.Connection("memory://") as conn:
        conn.default_channel  # noqa: B018 - connect
        with pytest.raises(lib.module("exceptions").TimeoutError):
            conn.drain_events(timeout=0.05)


def test_drain_events_timeout_on_rabbitmq(lib: Lib, rabbitmq: str) -> None:
    with lib.top.Connection(rabbitmq) as conn:
        conn.default_channel  # noqa: B018 - connect
        with pytest.raises(socket.timeout):
            conn.drain_events(timeout=0.05)


def test_connection_and_channel_errors_are_kombu_errors_here_only(lib: Lib) -> None:
    exceptions = lib.module("exceptions")
    # kombu re-exports py-amqp's classes, which are not KombuErrors.
    for name in ("ConnectionError", "ChannelError", "ResourceError"):
        is_kombu_error = issubclass(getattr(exceptions, name), exceptions.KombuError)
        assert is_kombu_error is (not lib.is_kombu)


def test_operational_error_is_a_connection_error_here_only(lib: Lib) -> None:
    exceptions = lib.module("exceptions")
    caught = issubclass(exceptions.OperationalError, exceptions.ConnectionError)
    assert caught is (not lib.is_kombu)


def test_connection_error_is_not_the_builtin(lib: Lib) -> None:
    exceptions = lib.module("exceptions")
    assert exceptions.ConnectionError is not ConnectionError
    assert not issubclass(exceptions.ConnectionError, OSError)


def test_inconsistency_error_says_its_text(lib: Lib) -> None:
    error = lib.module("exceptions").InconsistencyError("state is off")
    assert str(error) == "state is off"


def test_http_error_has_code_message_and_response(lib: Lib) -> None:
    response = object()
    error = lib.module("exceptions").HttpError(404, "Not Found", response)
    assert (error.code, error.message, error.response) == (404, "Not Found", response)
    assert str(error) == "HTTP 404: Not Found"
    # Every kombu_lite error is a KombuError; kombu's HttpError is not.
    assert isinstance(error, lib.module("exceptions").KombuError) is (not lib.is_kombu)


def _raise_and_keep(error: BaseException) -> Any:
    try:
        raise error
    except type(error):
        return sys.exc_info()[2]


def test_reraise_raises_the_value(lib: Lib) -> None:
    error = ValueError("again")
    with pytest.raises(ValueError, match="again") as info:
        lib.module("exceptions").reraise(ValueError, error)
    assert info.value is error


def test_reraise_puts_the_given_traceback_on(lib: Lib) -> None:
    error = KeyError("k")
    traceback = _raise_and_keep(error)
    error.__traceback__ = None
    with pytest.raises(KeyError) as info:
        lib.module("exceptions").reraise(KeyError, error, traceback)
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    assert frames[-1] is traceback.tb_frame  # where it was first raised


def test_reraise_with_its_own_traceback(lib: Lib) -> None:
    error = KeyError("k")
    traceback = _raise_and_keep(error)
    with pytest.raises(KeyError) as info:
        lib.module("exceptions").reraise(KeyError, error, traceback)
    assert info.value is error
