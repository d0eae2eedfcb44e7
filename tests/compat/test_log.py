"""``kombu.log`` and ``kombu.utils.debug``: loggers and quick debug logging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Lib


@pytest.fixture
def logger_name(unique: str) -> Iterator[str]:
    """A fresh logger name; its handlers are removed afterwards."""
    yield f"compat.{unique}"
    logger = logging.getLogger(f"compat.{unique}")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def _bare_root(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The root logger with no handlers (restored afterwards).

    Called in the test body: pytest adds its capture handlers to the root
    logger after the fixtures are set up.
    """
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    return root


# -- kombu.log ----------------------------------------------------------------------


def test_get_logger_returns_the_named_logger_with_a_handler(
    lib: Lib, logger_name: str
) -> None:
    logger = lib.module("log").get_logger(logger_name)
    assert logger is logging.getLogger(logger_name)
    assert [type(h) for h in logger.handlers] == [logging.NullHandler]
    assert lib.module("log").get_logger(logger) is logger
    assert len(logger.handlers) == 1


def test_get_logger_leaves_a_logger_with_handlers_alone(
    lib: Lib, logger_name: str
) -> None:
    logger = logging.getLogger(logger_name)
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    assert lib.module("log").get_logger(logger_name).handlers == [handler]


def test_get_loglevel(lib: Lib) -> None:
    log = lib.module("log")
    assert log.get_loglevel("DEBUG") == logging.DEBUG
    assert log.get_loglevel("FATAL") == logging.CRITICAL
    assert log.get_loglevel(logging.INFO) == logging.INFO
    with pytest.raises(KeyError):
        log.get_loglevel("LOUD")


def test_log_levels_map_both_ways(lib: Lib) -> None:
    levels = lib.module("log").LOG_LEVELS
    assert levels["WARNING"] == logging.WARNING
    assert levels[logging.WARNING] == "WARNING"
    assert levels[logging.CRITICAL] == "CRITICAL"


def _mixin(lib: Lib, name: str) -> Any:
    class Worker(lib.module("log").LogMixin):  # type: ignore[misc,name-defined]
        @property
        def logger_name(self) -> str:
            return name

    return Worker()


def test_log_mixin_prefixes_its_name(
    lib: Lib, logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    worker = _mixin(lib, logger_name)
    caplog.set_level(logging.DEBUG, logger=logger_name)
    worker.info("started %s of %r", 3, "jobs")
    worker.debug(5, "words")
    worker.warn("careful")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        f"{logger_name} - started 3 of 'jobs'",
        f"{logger_name} - 5 words",
        f"{logger_name} - careful",
    ]
    assert [r.levelno for r in caplog.records] == [20, 10, 30]


def test_log_mixin_error_and_critical_add_the_traceback(
    lib: Lib, logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    worker = _mixin(lib, logger_name)
    caplog.set_level(logging.DEBUG, logger=logger_name)
    try:
        raise ValueError("bad")
    except ValueError:
        worker.error("failed: %s", "x")
        worker.critical("worse", exc_info=False)
    first, second = caplog.records
    assert first.exc_info is not None
    assert first.exc_info[0] is ValueError
    assert not second.exc_info


def test_log_mixin_evaluates_lazy_arguments_only_when_enabled(
    lib: Lib, logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def expensive() -> str:
        calls.append(1)
        return "value"

    lazy = lib.attr("utils.functional", "lazy")
    worker = _mixin(lib, logger_name)
    caplog.set_level(logging.INFO, logger=logger_name)
    worker.debug("skipped %s", lazy(expensive))
    assert calls == []
    worker.info("got %s", lazy(expensive))
    assert calls == [1]
    assert caplog.records[-1].getMessage() == f"{logger_name} - got value"


def test_log_mixin_level_helpers(lib: Lib, logger_name: str) -> None:
    worker = _mixin(lib, logger_name)
    logging.getLogger(logger_name).setLevel(logging.WARNING)
    assert worker.is_enabled_for("ERROR")
    assert not worker.is_enabled_for(logging.INFO)
    assert worker.get_loglevel("INFO") == logging.INFO
    assert worker.logger is logging.getLogger(logger_name)
    assert worker.annotate("x") == f"{logger_name} - x"


def test_log_mixin_default_name_is_the_class_name(lib: Lib) -> None:
    class Plain(lib.module("log").LogMixin):  # type: ignore[misc,name-defined]
        pass

    assert Plain().logger_name == "Plain"


def test_log_mixin_disable_tracebacks(
    lib: Lib,
    logger_name: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if lib.is_kombu:  # kombu reads DISABLE_TRACEBACKS once, at import
        monkeypatch.setattr(lib.module("log"), "DISABLE_TRACEBACKS", "1")
    else:
        monkeypatch.setenv("DISABLE_TRACEBACKS", "1")
    worker = _mixin(lib, logger_name)
    caplog.set_level(logging.DEBUG, logger=logger_name)
    try:
        raise ValueError("bad")
    except ValueError:
        worker.error("failed")
    assert not caplog.records[0].exc_info


def test_log_names_a_logger(lib: Lib, logger_name: str) -> None:
    log = lib.module("log").Log(logger_name)
    assert log.logger is logging.getLogger(logger_name)
    mine = logging.getLogger(f"{logger_name}.mine")
    assert lib.module("log").Log("other", logger=mine).logger is mine


def test_setup_logging_adds_one_root_handler(
    lib: Lib, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare_root = _bare_root(monkeypatch)
    stream = io.StringIO()
    setup_logging = lib.module("log").setup_logging
    assert setup_logging("INFO", stream) is bare_root
    assert setup_logging("DEBUG", io.StringIO()) is bare_root
    (handler,) = bare_root.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is stream
    assert bare_root.level == logging.INFO


def test_setup_logging_defaults_to_errors_on_stderr(
    lib: Lib, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare_root = _bare_root(monkeypatch)
    lib.module("log").setup_logging()
    (handler,) = bare_root.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert bare_root.level == logging.ERROR


def test_setup_logging_to_a_file(
    lib: Lib, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    bare_root = _bare_root(monkeypatch)
    path = tmp_path / "out.log"
    lib.module("log").setup_logging(logging.WARNING, str(path))
    (handler,) = bare_root.handlers
    try:
        bare_root.warning("to the file")
        handler.flush()
        assert "to the file" in path.read_text()
    finally:
        handler.close()


# -- kombu.utils.debug --------------------------------------------------------------


def _streams_in(handlers: list[logging.Handler]) -> list[logging.Handler]:
    return [h for h in handlers if type(h) is logging.StreamHandler]


def _streams(logger: logging.Logger) -> list[logging.Handler]:
    """The plain stream handlers (kombu also adds a NullHandler first)."""
    return _streams_in(logger.handlers)


def test_debug_setup_logging_prints_the_loggers_at_debug(
    lib: Lib, logger_name: str
) -> None:
    debug = lib.module("utils.debug")
    debug.setup_logging(loggers=[logger_name])
    logger = logging.getLogger(logger_name)
    assert logger.level == logging.DEBUG
    assert len(_streams(logger)) == 1


def test_debug_setup_logging_adds_its_handler_once(lib: Lib, logger_name: str) -> None:
    debug = lib.module("utils.debug")
    debug.setup_logging(logging.INFO, loggers=[logger_name])
    debug.setup_logging(logging.WARNING, loggers=[logger_name])
    logger = logging.getLogger(logger_name)
    assert logger.level == logging.WARNING
    # kombu adds a handler per call, so each line prints once per call.
    assert len(_streams(logger)) == (2 if lib.is_kombu else 1)


def test_debug_setup_logging_defaults_to_the_connection_logger(lib: Lib) -> None:
    name = f"{lib.name}.connection"
    logger = logging.getLogger(name)
    before, level = list(logger.handlers), logger.level
    try:
        lib.module("utils.debug").setup_logging()
        assert len(_streams(logger)) == len(_streams_in(before)) + 1
    finally:
        for extra in set(logger.handlers) - set(before):
            logger.removeHandler(extra)
        logger.setLevel(level)
        if not lib.is_kombu:  # and the transports' logger
            transport = logging.getLogger("kombu_lite.transport")
            for extra in list(transport.handlers):
                transport.removeHandler(extra)
            transport.setLevel(logging.NOTSET)


class _Thing:
    size = 3

    def add(self, a: int, b: int = 0) -> int:
        return a + b

    def __enter__(self) -> _Thing:
        self.entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.exited = True

    def __repr__(self) -> str:
        return "<Thing>"


def test_logwrapped_logs_each_call(
    lib: Lib, logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=logger_name)
    thing = lib.module("utils.debug").Logwrapped(
        _Thing(), logging.getLogger(logger_name), ident="[{0!r}] "
    )
    assert thing.add(1, b=2) == 3
    assert thing.size == 3
    assert [r.getMessage() for r in caplog.records] == ["[<Thing>] add(1, b=2)"]


def test_logwrapped_takes_a_logger_name_and_passes_through(
    lib: Lib, logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=logger_name)
    inner = _Thing()
    thing = lib.module("utils.debug").Logwrapped(inner, logger_name)
    assert thing.add(4) == 4
    assert caplog.records[0].getMessage() == "add(4)"
    assert repr(thing) == "<Thing>"
    assert "add" in dir(thing)
    with thing as entered:
        assert entered is thing
    assert inner.entered
    assert inner.exited


def test_logwrapped_without_a_logger(lib: Lib) -> None:
    logwrapped = lib.module("utils.debug").Logwrapped
    if lib.is_kombu:  # kombu's get_logger(None) fails
        with pytest.raises(AttributeError):
            logwrapped(_Thing())
    else:
        assert logwrapped(_Thing()).add(1) == 1
