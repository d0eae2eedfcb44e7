"""The public surface: __all__ is honest, documented and picklable."""

from __future__ import annotations

import importlib
import inspect
import pickle

import pytest

import kombu_lite
from kombu_lite import exceptions

PUBLIC_MODULES = [
    "kombu_lite",
    "kombu_lite.connection",
    "kombu_lite.entity",
    "kombu_lite.messaging",
    "kombu_lite.message",
    "kombu_lite.retry",
    "kombu_lite.exceptions",
    "kombu_lite.serialization",
    "kombu_lite.compression",
    "kombu_lite.common",
    "kombu_lite.channel",
    "kombu_lite.transport",
    "kombu_lite.transport.base",
    "kombu_lite.transport.memory",
    "kombu_lite.transport.native_delayed_delivery",
    "kombu_lite.utils.functional",
    "kombu_lite.utils.limits",
    "kombu_lite.mixins",
    "kombu_lite.utils.uuid",
    "kombu_lite.utils.debug",
    "kombu_lite.log",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_name_in_all_exists_and_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)

    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{name}.{attr} has no docstring"


def test_top_level_all_is_sorted_and_complete() -> None:
    assert kombu_lite.__all__ == sorted(set(kombu_lite.__all__))
    for attr in (
        "Connection",
        "Producer",
        "Exchange",
        "Queue",
        "binding",
        "retry_over_time",
    ):
        assert attr in kombu_lite.__all__


def test_exported_classes_say_kombu_lite_in_their_repr() -> None:
    assert kombu_lite.Producer.__module__ == "kombu_lite"
    assert kombu_lite.Connection.__module__ == "kombu_lite"


@pytest.mark.parametrize("name", exceptions.__all__)
def test_every_exception_derives_from_kombu_error_and_pickles(name: str) -> None:
    obj = getattr(exceptions, name)
    if not inspect.isclass(obj):
        return
    if obj is exceptions.TimeoutError:  # Python's own, as kombu's
        assert obj is TimeoutError
        return
    assert issubclass(obj, exceptions.KombuError)
    if obj is exceptions.HttpError:
        exc = obj(500, "something failed")
        expected = "HTTP 500: something failed"
    else:
        exc = obj("something failed")
        expected = "something failed"
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is obj
    assert str(copy) == expected


def test_error_code_tables() -> None:
    assert exceptions.channel_error_for_code(404) is exceptions.NotFound
    assert exceptions.channel_error_for_code(999) is exceptions.ChannelError
    assert exceptions.connection_error_for_code(530) is exceptions.NotAllowed
    assert exceptions.connection_error_for_code(999) is exceptions.OperationalError
