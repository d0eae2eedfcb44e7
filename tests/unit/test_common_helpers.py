"""kombu_lite.common, log and utils: the paths the compatibility suite cannot reach."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kombu_lite import common, log
from kombu_lite.exceptions import SerializerNotInstalled
from kombu_lite.utils import debug, functional


class _Codec:
    def __init__(self, content_type: str) -> None:
        self.content_type = content_type


class _Registry:
    """A registry with kombu's ``type_to_name`` (issue 19)."""

    def __init__(self) -> None:
        self.type_to_name = {"application/x-mine": "mine"}


class _PartlyInstalled:
    """A registry without ``type_to_name`` whose yaml is not installed."""

    def encoder_for(self, name: str) -> _Codec:
        if name == "yaml":
            raise SerializerNotInstalled("no yaml")
        return _Codec(f"type/{name}")


def test_send_reply_serializer_comes_from_type_to_name_when_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(common, "serializers", _Registry())
    assert common._serializer_for("application/x-mine") == "mine"
    assert common._serializer_for("text/plain") is None


def test_send_reply_serializer_skips_serializers_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(common, "serializers", _PartlyInstalled())
    assert common._serializer_for("type/msgpack") == "msgpack"
    assert common._serializer_for("type/yaml") is None


def test_insured_logs_each_retry_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="kombu_lite.common")
    try:
        raise OSError("gone")
    except OSError as exc:
        common._log_retry(exc, 2.0)
    (record,) = caplog.records
    assert record.getMessage() == "Connection error: OSError('gone'). Retry in 2.0s"
    assert record.exc_info is not None


def test_eventloop_with_timeout_zero_swallows_timeouts() -> None:
    class Idle:
        def drain_events(self, timeout: float | None = None) -> None:
            raise TimeoutError

    assert list(common.eventloop(Idle(), limit=3, timeout=0)) == []


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_log_mixin_survives_an_unprintable_argument(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="Plain")

    class Plain(log.LogMixin):
        pass

    Plain().info("value %s and %r", _Unprintable(), _Unprintable())
    (record,) = caplog.records
    assert record.getMessage().startswith("Plain - value <")


def test_reprcall_survives_an_unprintable_argument() -> None:
    text = functional.reprcall("f", (_Unprintable(),))
    assert text.startswith("f(<")


def test_debug_setup_logging_without_a_level_keeps_the_level(unique: str) -> None:
    name = f"unit.{unique}"
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    try:
        debug.setup_logging(None, loggers=[name])
        assert logger.level == logging.WARNING
        assert len(logger.handlers) == 1
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


def test_lazy_is_unhashable_as_it_compares_by_value() -> None:
    value: Any = functional.lazy(int)
    with pytest.raises(TypeError):
        hash(value)
