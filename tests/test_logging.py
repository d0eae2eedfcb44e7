"""What the ``kombu_lite`` logger says at DEBUG: connects, declares, retries.

Every record comes from a logger under ``kombu_lite``, so one
``logging.getLogger("kombu_lite").setLevel(logging.DEBUG)`` shows them all,
and no record ever carries a password.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import OperationalError
from kombu_lite.transport.memory import default_broker


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog at DEBUG for the ``kombu_lite`` logger and its children."""
    caplog.set_level(logging.DEBUG, logger="kombu_lite")
    return caplog


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("kombu_lite").handlers

    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


def test_importing_a_module_directly_installs_the_null_handler_too() -> None:
    code = (
        "import logging\n"
        "from kombu_lite.connection import Connection\n"
        "handlers = logging.getLogger('kombu_lite').handlers\n"
        "print([type(h).__name__ for h in handlers])\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "['NullHandler']"


def test_a_connect_is_logged(debug_log: pytest.LogCaptureFixture) -> None:
    with Connection("memory://") as conn:
        conn.connect()

    assert "connected to memory://" in messages(debug_log)


@pytest.mark.broker
def test_a_connect_to_rabbitmq_is_logged_with_the_password_masked(
    rabbitmq: str, debug_log: pytest.LogCaptureFixture
) -> None:
    with Connection(rabbitmq) as conn:
        conn.connect()

    assert "connected to amqp://guest:**@127.0.0.1:5672//" in messages(debug_log)


def test_a_failed_connect_is_logged_with_the_password_masked(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    conn = Connection(f"amqp://app:hunter22@127.0.0.1:{port}//")

    with pytest.raises(OperationalError):
        conn.connect()

    [failed] = [m for m in messages(debug_log) if m.startswith("connect to ")]
    assert failed.startswith(f"connect to amqp://app:**@127.0.0.1:{port}// failed")
    assert "hunter22" not in debug_log.text


def test_an_exchange_declare_is_logged(debug_log: pytest.LogCaptureFixture) -> None:
    with Connection("memory://") as conn:
        Exchange("logs", "topic").declare(channel=conn.default_channel)

    assert "declared exchange 'logs' (topic)" in messages(debug_log)


def test_a_passive_exchange_declare_is_logged_as_a_check(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    with Connection("memory://") as conn:
        Exchange("logs").declare(channel=conn.default_channel)
        Exchange("logs").declare(passive=True, channel=conn.default_channel)

    assert "checked exchange 'logs' (direct)" in messages(debug_log)


def test_a_queue_declare_is_logged_with_its_counts(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    with Connection("memory://") as conn:
        conn.Producer().publish(1, routing_key="tasks", declare=[Queue("tasks")])
        Queue("tasks").queue_declare(passive=True, channel=conn.default_channel)

    logged = messages(debug_log)
    assert "declared queue 'tasks': 0 messages, 0 consumers" in logged
    assert "checked queue 'tasks': 1 messages, 0 consumers" in logged


def test_a_queue_binding_is_logged(debug_log: pytest.LogCaptureFixture) -> None:
    queue = Queue("errors", Exchange("logs", "topic"), routing_key="*.error")

    with Connection("memory://") as conn:
        queue.declare(channel=conn.default_channel)

    assert "bound queue 'errors' to exchange 'logs' with key '*.error'" in messages(
        debug_log
    )


def test_an_exchange_binding_and_delete_are_logged(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    source, destination = Exchange("all", "fanout"), Exchange("some", "fanout")

    with Connection("memory://") as conn:
        channel = conn.default_channel
        source.declare(channel=channel)
        destination.declare(channel=channel)
        destination.bind_to(source, channel=channel)
        destination.delete(channel=channel)

    logged = messages(debug_log)
    assert "bound exchange 'some' to exchange 'all' with key ''" in logged
    assert "deleted exchange 'some'" in logged


def test_a_retried_publish_logs_the_retry(debug_log: pytest.LogCaptureFixture) -> None:
    with Connection("memory://") as conn:
        producer = conn.Producer(routing_key="tasks")
        producer.publish(1, declare=[Queue("tasks")])
        default_broker().close_all_connections()

        producer.publish(2, retry=True)

    [retry] = [m for m in messages(debug_log) if m.startswith("retrying after")]
    assert "(attempt 1, host memory://, sleeping 0.00s)" in retry


def test_a_retried_connect_logs_each_retry(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    conn = Connection(f"amqp://app:hunter22@127.0.0.1:{closed_port()}//")

    with pytest.raises(OperationalError):
        conn.ensure_connection(max_retries=2, interval_start=0, interval_step=0)

    retries = [m for m in messages(debug_log) if m.startswith("connecting failed")]
    assert [m.split(",")[0] for m in retries] == [
        "connecting failed (retry 1",
        "connecting failed (retry 2",
    ]
    assert "hunter22" not in debug_log.text


def test_every_record_comes_from_a_kombu_lite_logger(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    with Connection("memory://") as conn:
        conn.Producer().publish(1, routing_key="q", declare=[Queue("q")])

    assert debug_log.records
    assert {record.name.split(".")[0] for record in debug_log.records} == {"kombu_lite"}


def test_nothing_is_logged_at_info_for_a_plain_publish(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="kombu_lite")

    with Connection("memory://") as conn:
        conn.Producer().publish(1, routing_key="q", declare=[Queue("q")])

    assert caplog.records == []


def test_a_retry_warns_with_attempt_host_reason_and_jittered_sleep(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only WARNING and up: retries are visible without turning DEBUG on.
    caplog.set_level(logging.WARNING, logger="kombu_lite")
    monkeypatch.setattr("kombu_lite.retry.random.uniform", lambda low, high: low)
    with Connection("memory://") as conn:
        producer = conn.Producer(routing_key="tasks")
        producer.publish(1, declare=[Queue("tasks")])
        default_broker().close_all_connections("Closed for the test")

        producer.publish(2, retry=True, retry_policy={"interval_start": 0.2})

    [record] = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert record.levelno == logging.WARNING
    assert record.name == "kombu_lite.connection"
    assert record.getMessage() == (
        "retrying after ConnectionLost: the memory broker closed the connection: "
        "CONNECTION_FORCED - Closed for the test; open a new connection "
        "(attempt 1, host memory://, sleeping 0.10s)"
    )


def test_a_retried_connect_warns_naming_the_host_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kombu_lite")
    port = closed_port()
    conn = Connection(f"amqp://app:hunter22@127.0.0.1:{port}//")

    with pytest.raises(OperationalError):
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        f"connecting failed (retry 1, host amqp://app:**@127.0.0.1:{port}//, "
        f"sleeping 0.00s): connection refused"
    )
