"""The command line's commands: publish, get, consume, declare, delete, purge.

Most tests call ``main()`` in this process against ``memory://``, which is
fast and lets them look inside the broker.  A few run ``python -m
kombu_lite`` in a subprocess: against ``memory://`` only for what one
process can show (a publish), against RabbitMQ for the rest.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.cli import main
from kombu_lite.transport.memory import default_broker

MEMORY = ["--url", "memory://"]


@dataclass
class Result:
    code: int
    out: str
    err: str


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(
    *argv: str, stdin: io.TextIOBase | None = None, err: io.StringIO | None = None
) -> Result:
    stdout, stderr = io.StringIO(), err if err is not None else io.StringIO()
    code = main(
        list(argv),
        stdin=stdin if stdin is not None else io.StringIO(""),  # type: ignore[arg-type]
        stdout=stdout,
        stderr=stderr,
    )
    return Result(code, stdout.getvalue(), stderr.getvalue())


def cli(*argv: str) -> list[str]:
    """The command line of ``python -m kombu_lite``."""
    return [sys.executable, "-m", "kombu_lite", *argv]


def publish(queue: str, *bodies: object, **options: object) -> None:
    """Declare ``queue`` on memory:// and publish ``bodies`` to it."""
    with Connection("memory://") as conn:
        Queue(queue).declare(channel=conn.default_channel)
        producer = conn.Producer()
        for body in bodies:
            producer.publish(body, routing_key=queue, **options)


def ready(queue: str) -> int:
    return len(default_broker().queue_messages(queue))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- publish ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--url", "memory://", "--json", "declare", "queue", "q"],
        ["declare", "--url", "memory://", "--json", "queue", "q"],
        ["declare", "queue", "q", "--url", "memory://", "--json"],
    ],
    ids=["before the command", "after declare", "after queue"],
)
def test_common_options_are_taken_before_or_after_the_command(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were --url lost, the command would go to this unreachable broker.
    monkeypatch.setenv("KOMBU_LITE_URL", "amqp://guest:guest@127.0.0.1:1//")

    result = run(*argv)

    assert result.code == 0, result.err
    assert json.loads(result.out)["declared"] == "queue"


def test_an_option_given_before_the_command_is_not_undone_after_it() -> None:
    publish("q", {"n": 1})

    result = run("--json", *MEMORY, "get", "--count", "1", "q")

    assert result.code == 0, result.err
    assert json.loads(result.out)["payload"] == {"n": 1}


def test_the_demo_takes_its_url_before_the_command_too() -> None:
    result = run("--url", "amqp://guest:guest@127.0.0.1:1//", "demo")

    assert result.code == 1
    assert "127.0.0.1:1" in result.err


def test_publish_declares_the_queue_and_sends_the_body_as_json() -> None:
    result = run("publish", *MEMORY, "--declare-queue", "tasks", '{"n": 1}')

    assert result.code == 0, result.err
    [message] = default_broker().queue_messages("tasks")
    assert message.body == b'{"n": 1}'
    assert message.properties.content_type == "application/json"


def test_publish_says_what_it_sent_and_where() -> None:
    result = run("publish", *MEMORY, "--declare-queue", "tasks", "[1, 2]")

    assert result.out.splitlines() == [
        "declared queue 'tasks'",
        "published 1 message (6 bytes) to exchange '' with routing key 'tasks'",
    ]


def test_publish_json_output_is_one_object() -> None:
    result = run("publish", *MEMORY, "--json", "--declare-queue", "tasks", "1")

    assert json.loads(result.out) == {
        "published": 1,
        "exchange": "",
        "routing_key": "tasks",
        "body_size": 1,
        "content_type": "application/json",
        "confirmed": False,
    }


def test_publish_reads_the_body_from_stdin() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"from": "stdin"}'))

    run("publish", *MEMORY, "--declare-queue", "tasks", stdin=stdin)

    assert default_broker().queue_messages("tasks")[0].body == b'{"from": "stdin"}'


def test_publish_refuses_to_wait_for_a_body_typed_at_a_terminal() -> None:
    result = run("publish", *MEMORY, "-r", "tasks", stdin=Terminal())

    assert result.code == 2
    assert "no body" in result.err


def test_publish_headers_are_strings_unless_given_as_json() -> None:
    run("publish", *MEMORY, "--declare-queue", "q", "-H", "a=1", "-H", "b:=1", "{}")

    headers = default_broker().queue_messages("q")[0].properties.headers
    assert headers == {"a": "1", "b": 1}


def test_publish_with_a_content_type_sends_the_text_as_it_is() -> None:
    run(
        "publish", *MEMORY, "--declare-queue", "q", "--content-type", "text/plain", "hi"
    )

    [message] = default_broker().queue_messages("q")
    assert (message.body, message.properties.content_type) == (b"hi", "text/plain")
    assert message.properties.content_encoding == "utf-8"


def test_publish_with_a_content_type_marks_bytes_that_are_not_text_binary() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\x00"))

    run(
        "publish",
        *MEMORY,
        "--declare-queue",
        "q",
        "--content-type",
        "image/x",
        stdin=stdin,
    )

    [message] = default_broker().queue_messages("q")
    assert (message.body, message.properties.content_encoding) == (
        b"\xff\x00",
        "binary",
    )


def test_publish_encodes_the_json_value_with_the_serializer() -> None:
    run("publish", *MEMORY, "--declare-queue", "q", "--serializer", "pickle", "[1, 2]")

    [message] = default_broker().queue_messages("q")
    assert message.properties.content_type == "application/x-python-serialize"
    assert pickle.loads(message.body) == [1, 2]


def test_publish_raw_serializer_sends_the_bytes_as_they_are() -> None:
    run("publish", *MEMORY, "--declare-queue", "q", "--serializer", "raw", "not json")

    [message] = default_broker().queue_messages("q")
    assert (message.body, message.properties.content_type) == (
        b"not json",
        "application/data",
    )


def test_publish_compresses_when_asked() -> None:
    run("publish", *MEMORY, "--declare-queue", "q", "--compression", "zlib", "{}")

    headers = default_broker().queue_messages("q")[0].properties.headers
    assert headers == {"compression": "application/x-gzip"}


def test_publish_count_sends_that_many_copies() -> None:
    result = run("publish", *MEMORY, "--declare-queue", "q", "-n", "5", "{}")

    assert ready("q") == 5
    assert "published 5 messages (2 bytes each)" in result.out


def test_publish_count_draws_a_progress_bar_on_a_terminal() -> None:
    terminal = Terminal()

    run("publish", *MEMORY, "--declare-queue", "q", "-n", "3", "{}", err=terminal)

    drawn = terminal.getvalue()
    assert "3/3 100%" in drawn
    assert "/s  ETA 0:00" in drawn
    assert drawn.endswith("\n")


def test_publish_count_draws_no_progress_bar_into_a_file() -> None:
    result = run("publish", *MEMORY, "--declare-queue", "q", "-n", "3", "{}")

    assert result.err == ""


def test_publish_binds_the_declared_queue_to_the_exchange() -> None:
    with Connection("memory://") as conn:
        Exchange("logs", type="topic").declare(channel=conn.default_channel)

    run(
        "publish",
        *MEMORY,
        "-e",
        "logs",
        "-r",
        "app.error",
        "--declare-queue",
        "errors",
        "{}",
    )

    [binding] = default_broker().bindings()
    assert (binding.source, binding.destination, binding.routing_key) == (
        "logs",
        "errors",
        "app.error",
    )
    assert ready("errors") == 1


def test_publish_with_confirm_says_the_broker_confirmed() -> None:
    result = run("publish", *MEMORY, "--confirm", "--declare-queue", "q", "{}")

    assert result.out.endswith("with routing key 'q', confirmed by the broker\n")


def test_publish_to_a_missing_exchange_fails_in_one_line() -> None:
    result = run("publish", *MEMORY, "-e", "missing", "-r", "k", "{}")

    assert result.code == 1
    assert result.err.startswith("kombu-lite publish: error: NotFound: ")
    assert result.err.count("\n") == 1


def test_publish_failure_in_a_batch_says_how_many_went_first() -> None:
    result = run("publish", *MEMORY, "-e", "missing", "-r", "k", "-n", "3", "{}")

    assert result.err.rstrip().endswith(
        "; 0 of 3 messages sent, none confirmed (no --confirm)"
    )


def test_publish_needs_a_routing_key_on_the_default_exchange() -> None:
    result = run("publish", *MEMORY, "{}")

    assert result.code == 2
    assert "needs --routing-key" in result.err


def test_publish_refuses_a_body_that_is_not_json() -> None:
    result = run("publish", *MEMORY, "-r", "q", "hello")

    assert result.code == 2
    assert "the body is not valid JSON" in result.err


# -- get ----------------------------------------------------------------------


def test_get_prints_one_message_and_acknowledges_it() -> None:
    publish("q", {"n": 1}, {"n": 2})

    result = run("get", *MEMORY, "q")

    assert result.out.splitlines() == [
        "message 1 from 'q': 8 bytes, application/json, exchange '', routing key 'q'",
        '  {"n": 1}',
        "1 message acknowledged",
    ]
    assert ready("q") == 1


def test_get_peek_puts_the_messages_back() -> None:
    publish("q", {"n": 1}, {"n": 2})

    result = run("get", *MEMORY, "q", "--peek", "-n", "5")

    assert result.out.count("message ") == 2
    assert ready("q") == 2


def test_get_json_prints_one_record_per_message() -> None:
    publish("q", {"n": 1}, headers={"trace": "abc"})

    [line] = run("get", *MEMORY, "--json", "q").out.splitlines()

    record = json.loads(line)
    assert record["payload"] == {"n": 1}
    assert record["headers"] == {"trace": "abc"}
    assert (record["body"], record["body_encoding"]) == ('{"n": 1}', "utf-8")


def test_get_json_gives_binary_bodies_in_base64() -> None:
    publish("q", b"\xff\x00")

    record = json.loads(run("get", *MEMORY, "--json", "q").out)

    assert (record["body"], record["body_encoding"]) == ("/wA=", "base64")
    assert "payload" not in record


def test_get_describes_a_binary_body_instead_of_printing_it() -> None:
    publish("q", b"\xff\x00")

    result = run("get", *MEMORY, "q")

    assert (
        "  <2 bytes of binary data; use --json to get them in base64, or --raw "
        "for the bytes>" in result.out
    )


def test_get_shows_a_compressed_body_decompressed() -> None:
    publish("q", {"big": "x" * 100}, compression="zlib")

    result = run("get", *MEMORY, "q")

    assert "headers: compression='application/x-gzip'" in result.out
    assert '{"big": "' + "x" * 100 in result.out


def test_get_says_when_a_compressed_body_cannot_be_decompressed() -> None:
    publish("q", b"not zlib", headers={"compression": "application/x-gzip"})

    result = run("get", *MEMORY, "q")

    assert "  (could not decompress it: could not decompress a 8-byte" in result.out
    assert result.out.endswith("  not zlib\n1 message acknowledged\n")


def test_get_json_writes_header_values_json_has_no_type_for() -> None:
    publish(
        "q",
        {},
        headers={
            "raw": b"\xff\x00",  # not UTF-8: stays bytes, as off the wire
            "when": datetime.datetime(2024, 5, 1, 12, 0),
            "price": decimal.Decimal("1.25"),
        },
    )

    record = json.loads(run("get", *MEMORY, "--json", "q").out)

    assert record["headers"] == {
        "raw": "/wA=",
        "when": "2024-05-01T12:00:00",
        "price": "1.25",
    }


def test_get_on_an_empty_queue_says_so_with_exit_status_3() -> None:
    publish("q")

    result = run("get", *MEMORY, "q")

    assert (result.code, result.out, result.err) == (3, "no message in 'q'\n", "")


def test_get_with_a_timeout_waits_for_a_message() -> None:
    publish("q")
    timer = threading.Timer(0.05, publish, ("q", {"late": True}))
    timer.start()

    result = run("get", *MEMORY, "--json", "q", "--timeout", "5")

    timer.join()
    assert json.loads(result.out)["payload"] == {"late": True}


def test_get_from_a_missing_queue_fails_in_one_line() -> None:
    result = run("get", *MEMORY, "missing")

    assert result.code == 1
    assert result.err.startswith("kombu-lite get: error: NotFound: ")
    assert result.err.count("\n") == 1


def test_a_missing_tls_file_fails_in_one_line_naming_the_option(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nonexist.pem"
    url = f"amqps://guest:guest@127.0.0.1:{free_port()}//?ssl_ca_certs={missing}"

    result = run("get", "--url", url, "q")

    assert result.code == 1
    assert result.err == (
        "kombu-lite get: error: ConfigurationError: ssl option 'ca_certs': "
        f"cannot read '{missing}': No such file or directory\n"
    )


# -- consume ------------------------------------------------------------------


def test_consume_stops_after_count_messages() -> None:
    publish("q", 1, 2, 3)

    result = run("consume", *MEMORY, "q", "-n", "2")

    assert result.out.count("message ") == 2
    assert result.out.endswith("2 messages acknowledged\n")
    assert ready("q") == 1


def test_consume_stops_after_timeout_seconds_of_silence() -> None:
    publish("q", 1, 2)

    result = run("consume", *MEMORY, "q", "--timeout", "0.05")

    assert result.code == 0
    assert result.out.count("message ") == 2
    assert ready("q") == 0


def test_consume_peek_puts_the_messages_back() -> None:
    publish("q", 1, 2)

    result = run("consume", *MEMORY, "q", "--peek", "--timeout", "0.05")

    assert result.out.endswith("2 messages put back on the queue\n")
    assert ready("q") == 2


def test_consume_fails_when_the_queue_is_deleted_under_it() -> None:
    publish("q")

    def delete_queue_once_consumed() -> None:
        # The broker has no event for "a consumer started": poll for it, so
        # the queue is never deleted before the command subscribes.
        deadline = time.monotonic() + 10
        while not any(info.consumers for info in default_broker().queues()):
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        with Connection("memory://") as conn:
            Queue("q").delete(channel=conn.default_channel)

    deleter = threading.Thread(target=delete_queue_once_consumed)
    deleter.start()

    result = run("consume", *MEMORY, "q", "--timeout", "5")

    deleter.join()
    assert result.code == 1
    assert "the broker cancelled the consumer of 'q'" in result.err


# -- declare, delete, purge --------------------------------------------------


def test_declare_exchange_creates_it_with_its_type() -> None:
    result = run("declare", "exchange", *MEMORY, "logs", "-t", "topic", "--no-durable")

    [info] = [e for e in default_broker().exchanges() if e.name == "logs"]
    assert (info.type, info.durable) == ("topic", False)
    assert result.out == "declared exchange 'logs' (topic)\n"


def test_declare_queue_sets_its_arguments_and_binding() -> None:
    run("declare", "exchange", *MEMORY, "logs")

    result = run(
        "declare", "queue", *MEMORY, "q", "-e", "logs", "-r", "k",
        "--max-length", "10", "--message-ttl", "1.5", "--argument", "x-custom=yes",
    )  # fmt: skip

    [info] = default_broker().queues()
    assert dict(info.arguments) == {
        "x-max-length": 10,
        "x-message-ttl": 1500,
        "x-custom": "yes",
    }
    assert result.out == (
        "declared queue 'q' (durable; 0 messages, 0 consumers), "
        "bound to 'logs' with key 'k'\n"
    )


def test_declare_queue_json_reports_the_counts() -> None:
    publish("q", 1)

    record = json.loads(run("declare", "queue", *MEMORY, "--json", "q").out)

    assert (record["declared"], record["messages"], record["consumers"]) == (
        "queue",
        1,
        0,
    )


def test_declare_passive_reports_an_existing_queue() -> None:
    publish("q", 1, 2)

    result = run("declare", "queue", *MEMORY, "q", "--passive")

    assert result.out == "queue 'q' exists: 2 messages, 0 consumers\n"


def test_declare_passive_fails_for_a_missing_exchange() -> None:
    result = run("declare", "exchange", *MEMORY, "missing", "--passive")

    assert result.code == 1
    assert "NotFound" in result.err


def test_declare_passive_reports_an_existing_exchange() -> None:
    run("declare", "exchange", *MEMORY, "logs")

    result = run("declare", "exchange", *MEMORY, "logs", "--passive", "--json")

    assert json.loads(result.out) == {"exists": "exchange", "name": "logs"}


def test_declare_refuses_the_default_exchange() -> None:
    result = run("declare", "exchange", *MEMORY, "")

    assert result.code == 2


def test_delete_queue_says_how_many_messages_went_with_it() -> None:
    publish("q", 1, 2, 3)

    result = run("delete", "queue", *MEMORY, "q")

    assert result.out == "deleted queue 'q' and 3 messages\n"
    assert default_broker().queues() == []


def test_delete_exchange_removes_it() -> None:
    run("declare", "exchange", *MEMORY, "logs")

    run("delete", "exchange", *MEMORY, "logs")

    assert "logs" not in [e.name for e in default_broker().exchanges()]


def test_delete_refuses_the_default_exchange() -> None:
    result = run("delete", "exchange", *MEMORY, "")

    assert result.code == 2


def test_purge_says_how_many_messages_it_dropped() -> None:
    publish("q", 1)

    result = run("purge", *MEMORY, "q", "--json")

    assert json.loads(result.out) == {"purged": 1, "queue": "q"}
    assert ready("q") == 0


# -- options shared by every command ------------------------------------------


def test_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMBU_LITE_URL", "memory://")

    run("publish", "--declare-queue", "q", "{}")

    assert ready("q") == 1


def test_verbose_shows_the_debug_log_on_stderr() -> None:
    result = run("publish", *MEMORY, "-v", "--declare-queue", "q", "{}")

    assert "debug: kombu_lite.connection: connected to memory://" in result.err


def test_errors_never_show_the_password() -> None:
    url = f"amqp://user:hunter22@127.0.0.1:{free_port()}//"

    result = run("get", "--url", url, "q")

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "hunter22" not in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "url",
    ["amqp://guest:MyS3cretPw", "amqp://guest:MyS3cretPw/", "amqp://guest:pw@h:²/"],
)
def test_a_malformed_url_is_one_line_without_the_password(url: str) -> None:
    result = run("get", "--url", url, "q")

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "InvalidURL" in result.err
    assert "MyS3cretPw" not in result.err
    assert "Traceback" not in result.err


def test_usage_errors_are_one_line_with_status_2() -> None:
    result = run("get", *MEMORY, "q", "--count", "zero")

    assert result.code == 2
    assert result.err == (
        "kombu-lite get: error: argument -n/--count: expected a whole number, "
        "not 'zero' (see 'kombu-lite get --help')\n"
    )


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--count", "0", "must be 1 or more, not 0"),
        ("--timeout", "soon", "expected a number of seconds, not 'soon'"),
        ("--timeout", "-1", "must be 0 seconds or more, not -1"),
        ("--timeout", "nan", "must be 0 seconds or more, not nan"),
    ],
)
def test_bad_option_values_are_usage_errors(
    option: str, value: str, problem: str
) -> None:
    result = run("get", *MEMORY, "q", option, value)

    assert result.code == 2
    assert problem in result.err


def test_a_negative_queue_limit_is_a_usage_error() -> None:
    result = run("declare", "queue", *MEMORY, "q", "--max-length", "-1")

    assert "must be 0 or more, not -1" in result.err


def test_a_header_that_is_not_json_is_a_usage_error() -> None:
    result = run("publish", *MEMORY, "-r", "q", "-H", "n:=[1", "{}")

    assert result.code == 2
    assert "the value of 'n' is not valid JSON" in result.err


def test_bad_key_value_is_a_usage_error() -> None:
    result = run("publish", *MEMORY, "-r", "q", "-H", "novalue", "{}")

    assert "expected key=value or key:=json, not 'novalue'" in result.err


def test_version_is_printed() -> None:
    from kombu_lite import __version__

    assert run("--version").out == f"kombu-lite {__version__}\n"


def test_a_closed_stdout_ends_the_command_quietly() -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    publish("q", 1)
    stderr = io.StringIO()

    code = main(["get", *MEMORY, "q"], stdout=ClosedPipe(), stderr=stderr)

    assert (code, stderr.getvalue()) == (1, "")
    assert ready("q") == 1  # not printed, so not acknowledged


def test_interrupting_a_consumer_puts_the_messages_back() -> None:
    class Interrupting(io.StringIO):
        def write(self, text: str) -> int:
            if "message 2" in text:
                raise KeyboardInterrupt
            return super().write(text)

    publish("q", 1, 2)
    stderr = io.StringIO()

    code = main(
        ["consume", *MEMORY, "q", "--peek"], stdout=Interrupting(), stderr=stderr
    )

    assert (code, stderr.getvalue()) == (130, "kombu-lite consume: interrupted\n")
    assert ready("q") == 2


def test_an_unexpected_error_is_still_one_line() -> None:
    class BrokenStdin(io.StringIO):
        def read(self, size: int | None = -1) -> str:
            raise RuntimeError("the stream broke")

    result = run("publish", *MEMORY, "-r", "q", stdin=BrokenStdin())

    assert result.code == 1
    assert result.err == (
        "kombu-lite publish: internal: error: RuntimeError: the stream broke\n"
    )


# -- in a subprocess ------------------------------------------------------------


def test_publish_in_a_subprocess_reads_stdin_and_reports_json() -> None:
    result = subprocess.run(
        cli("publish", *MEMORY, "--json", "--declare-queue", "q"),
        input=b'{"n": 1}',
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"] == 1


def test_error_in_a_subprocess_is_one_line_without_traceback() -> None:
    result = subprocess.run(
        cli("get", *MEMORY, "missing"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.fixture
def broker_queue(rabbitmq: str, unique: str) -> Iterator[str]:
    """A queue name unique to the test; the queue is deleted afterwards."""
    yield unique
    with Connection(rabbitmq) as conn:
        Queue(unique).delete(channel=conn.default_channel)


@pytest.mark.broker
def test_publish_then_get_through_rabbitmq(rabbitmq: str, broker_queue: str) -> None:
    url = ["--url", rabbitmq]
    published = subprocess.run(
        cli("publish", *url, "--confirm", "--declare-queue", broker_queue, "[1]"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    got = subprocess.run(
        cli("get", *url, "--json", broker_queue),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert published.returncode == 0, published.stderr
    assert json.loads(got.stdout)["payload"] == [1]


@pytest.mark.broker
def test_consume_through_rabbitmq_stops_after_count(
    rabbitmq: str, broker_queue: str
) -> None:
    with Connection(rabbitmq) as conn:
        producer = conn.Producer()
        for n in range(3):
            producer.publish(n, routing_key=broker_queue, declare=[Queue(broker_queue)])

    result = subprocess.run(
        cli("consume", "--url", rabbitmq, "--json", "-n", "2", broker_queue),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert [json.loads(line)["payload"] for line in result.stdout.splitlines()] == [
        0,
        1,
    ]


@pytest.mark.broker
def test_interrupted_consume_exits_130_and_leaves_the_messages(
    rabbitmq: str, broker_queue: str
) -> None:
    queue = Queue(broker_queue)
    with Connection(rabbitmq) as conn:
        conn.Producer().publish("kept", routing_key=broker_queue, declare=[queue])
    process = subprocess.Popen(
        cli("consume", "--url", rabbitmq, "--peek", broker_queue),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The printed message shows the consumer is in its receive loop; a
        # signal that lands while py-amqp is still half-way through
        # basic.consume is another story (the channel may not close cleanly).
        assert process.stdout is not None
        first = process.stdout.readline()
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert first.startswith(f"message 1 from '{broker_queue}'")
    assert process.returncode == 130, err
    assert err == "kombu-lite consume: interrupted\n"
    with Connection(rabbitmq) as conn:
        assert queue.queue_declare(channel=conn.default_channel).message_count == 1


# -- where the URL comes from, and how failures read, in a subprocess -----------


def run_cli(
    *argv: str, url_variable: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kombu_lite``; ``KOMBU_LITE_URL`` set only when given."""
    env = {k: v for k, v in os.environ.items() if k != "KOMBU_LITE_URL"}
    if url_variable is not None:
        env["KOMBU_LITE_URL"] = url_variable
    return subprocess.run(
        cli(*argv), capture_output=True, text=True, timeout=30, check=False, env=env
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_url_comes_from_the_environment_in_a_subprocess() -> None:
    result = run_cli("declare", "queue", "-v", "q", url_variable="memory://")

    assert result.returncode == 0, result.stderr
    assert "connected to memory://" in result.stderr


def test_url_option_wins_over_the_environment() -> None:
    elsewhere = f"amqp://guest:guest@127.0.0.1:{free_port()}//"

    result = run_cli("declare", "queue", *MEMORY, "q", url_variable=elsewhere)

    assert result.returncode == 0, result.stderr


def test_unreachable_port_is_one_line_without_the_password() -> None:
    url = f"amqp://guest:hunter22@127.0.0.1:{free_port()}//"

    result = run_cli("purge", "--url", url, "q")

    assert_one_line_failure(result)
    assert "OperationalError" in result.stderr
    assert "hunter22" not in result.stderr


@pytest.mark.broker
def test_wrong_password_on_rabbitmq_is_one_line_without_it(rabbitmq: str) -> None:
    url = rabbitmq.replace("guest:guest@", "guest:not-the-password@")

    result = run_cli("get", "--url", url, "q")

    assert_one_line_failure(result)
    assert "AccessRefused" in result.stderr
    assert "not-the-password" not in result.stderr


@pytest.mark.broker
def test_without_url_or_environment_the_local_rabbitmq_is_used(
    rabbitmq: str, broker_queue: str
) -> None:
    result = run_cli("declare", "queue", "--no-durable", broker_queue)

    assert result.returncode == 0, result.stderr
    with Connection(rabbitmq) as conn:
        declared = Queue(broker_queue).queue_declare(
            passive=True, channel=conn.default_channel
        )
    assert declared.queue == broker_queue


# -- declare, purge and delete on RabbitMQ ---------------------------------------


@pytest.fixture
def broker_exchange(rabbitmq: str, unique: str) -> Iterator[str]:
    """An exchange name unique to the test; the exchange is deleted afterwards."""
    name = f"{unique}-x"
    yield name
    with Connection(rabbitmq) as conn:
        Exchange(name).delete(channel=conn.default_channel)


def message_count(url: str, queue: str) -> int:
    with Connection(url) as conn:
        declared = Queue(queue).queue_declare(
            passive=True, channel=conn.default_channel
        )
    return declared.message_count


@pytest.mark.broker
def test_declared_queue_is_bound_to_the_declared_exchange_on_rabbitmq(
    rabbitmq: str, broker_queue: str, broker_exchange: str
) -> None:
    url = ["--url", rabbitmq]
    made_exchange = run_cli("declare", "exchange", *url, "-t", "topic", broker_exchange)
    made_queue = run_cli(
        "declare", "queue", *url, broker_queue, "-e", broker_exchange, "-r", "log.*"
    )
    with Connection(rabbitmq, confirm_publish=True) as conn:
        conn.Producer().publish(1, exchange=broker_exchange, routing_key="log.error")

    assert (made_exchange.returncode, made_queue.returncode) == (0, 0), (
        made_exchange.stderr + made_queue.stderr
    )
    assert message_count(rabbitmq, broker_queue) == 1


@pytest.mark.broker
def test_purge_on_rabbitmq_reports_the_messages_dropped(
    rabbitmq: str, broker_queue: str
) -> None:
    with Connection(rabbitmq, confirm_publish=True) as conn:
        producer = conn.Producer(routing_key=broker_queue)
        producer.publish(1, declare=[Queue(broker_queue)])
        producer.publish(2)

    result = run_cli("purge", "--url", rabbitmq, "--json", broker_queue)

    assert json.loads(result.stdout) == {"purged": 2, "queue": broker_queue}
    assert message_count(rabbitmq, broker_queue) == 0


@pytest.mark.broker
def test_delete_queue_on_rabbitmq_removes_it(rabbitmq: str, broker_queue: str) -> None:
    with Connection(rabbitmq) as conn:
        Queue(broker_queue).declare(channel=conn.default_channel)

    result = run_cli("delete", "queue", "--url", rabbitmq, broker_queue)
    gone = run_cli("declare", "queue", "--url", rabbitmq, "--passive", broker_queue)

    assert result.returncode == 0, result.stderr
    assert_one_line_failure(gone)
    assert "NotFound" in gone.stderr


@pytest.mark.broker
def test_delete_exchange_on_rabbitmq_removes_it(
    rabbitmq: str, broker_exchange: str
) -> None:
    with Connection(rabbitmq) as conn:
        Exchange(broker_exchange, "fanout").declare(channel=conn.default_channel)

    result = run_cli("delete", "exchange", "--url", rabbitmq, broker_exchange)
    gone = run_cli(
        "declare", "exchange", "--url", rabbitmq, "--passive", broker_exchange
    )

    assert result.returncode == 0, result.stderr
    assert_one_line_failure(gone)
    assert "NotFound" in gone.stderr
