"""pytest fixtures for code that uses kombu_lite.

Installing kombu_lite registers this module with pytest (the ``pytest11``
entry point ``kombu_lite``), so the fixtures are there in every test:

``kombu_lite_memory``
    A fresh ``memory://`` :class:`~kombu_lite.Connection` on an empty
    broker; closed, and the broker emptied, after the test.
``kombu_lite_memory_broker``
    That broker, :func:`~kombu_lite.transport.memory.default_broker`,
    emptied before and after the test, for looking inside queues.
``kombu_lite_broker_url``
    The URL of a real broker, from ``--kombu-lite-broker-url`` or the
    ``KOMBU_LITE_BROKER_URL`` environment variable.  Tests that use it are
    skipped when neither is set or the broker cannot be reached; a refused
    login or a malformed URL is an error, not a skip.

Nothing here is autouse: a test suite that does not ask for the fixtures
is not touched.  Disable the plugin with ``-p no:kombu_lite``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from kombu_lite.connection import Connection
from kombu_lite.connection.url import mask_url
from kombu_lite.exceptions import OperationalError
from kombu_lite.transport.memory import default_broker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kombu_lite.transport.memory import Broker

__all__ = [
    "BROKER_URL_ENVIRONMENT_VARIABLE",
    "BROKER_URL_OPTION",
    "kombu_lite_broker_url",
    "kombu_lite_memory",
    "kombu_lite_memory_broker",
    "pytest_addoption",
]

#: The command-line option naming the broker for ``kombu_lite_broker_url``.
BROKER_URL_OPTION = "--kombu-lite-broker-url"
#: The environment variable read when the option is not given.
BROKER_URL_ENVIRONMENT_VARIABLE = "KOMBU_LITE_BROKER_URL"

#: Seconds the reachability check waits for the broker.
_CHECK_TIMEOUT = 2.0


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--kombu-lite-broker-url`` to pytest's options."""
    group = parser.getgroup("kombu_lite", "kombu_lite fixtures")
    group.addoption(
        BROKER_URL_OPTION,
        dest="kombu_lite_broker_url",
        default=None,
        metavar="URL",
        help=(
            "broker for the kombu_lite_broker_url fixture (default: "
            f"${BROKER_URL_ENVIRONMENT_VARIABLE}); tests using it are skipped "
            "when there is none or it cannot be reached"
        ),
    )


@pytest.fixture
def kombu_lite_memory_broker() -> Iterator[Broker]:
    """The process-wide memory broker, emptied before and after the test."""
    broker = default_broker()
    broker.reset()
    yield broker
    broker.reset()


@pytest.fixture
def kombu_lite_memory(kombu_lite_memory_broker: Broker) -> Iterator[Connection]:
    """A ``memory://`` connection on an empty broker, closed after the test."""
    with Connection("memory://") as connection:
        yield connection


@pytest.fixture(scope="session")
def kombu_lite_broker_url(pytestconfig: pytest.Config) -> str:
    """The URL of a reachable broker; skips the test when there is none.

    The broker is checked once per session, by opening a connection.
    """
    option: str | None = pytestconfig.getoption("kombu_lite_broker_url")
    url = option or os.environ.get(BROKER_URL_ENVIRONMENT_VARIABLE)
    if not url:
        pytest.skip(
            f"no broker given: pass {BROKER_URL_OPTION} or set "
            f"{BROKER_URL_ENVIRONMENT_VARIABLE}"
        )
    try:
        with Connection(url, connect_timeout=_CHECK_TIMEOUT) as connection:
            connection.connect()
    except OperationalError as exc:
        if not exc.recoverable:
            raise
        pytest.skip(f"no broker reachable at {mask_url(url)}: {exc}")
    return url
