"""The command line never reports a success that did not happen (issue 17).

Each behaviour runs on ``memory://`` (in this process when it needs the
broker's state, else in a subprocess of its own) and on RabbitMQ, by
subprocess.  Entities on RabbitMQ are named from ``unique`` and deleted
in finalizers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kombu_lite import Connection, Exchange, Queue
from tests.cli_helpers import (
    MEMORY,
    cli_run,
    interrupt_when_drawing,
    run,
    run_bytes,
)


@pytest.fixture
def queue(rabbitmq: str, unique: str) -> Iterator[str]:
    """A queue on RabbitMQ, declared (not durable) and deleted afterwards."""
    with Connection(rabbitmq) as conn:
        Queue(unique, durable=False).declare(channel=conn.default_channel)
    yield unique
    with Connection(rabbitmq) as conn:
        Queue(unique).delete(channel=conn.default_channel)


@pytest.fixture
def sink(rabbitmq: str, unique: str) -> Iterator[str]:
    """A fanout exchange with no queue bound (what it gets is dropped)."""
    name = f"{unique}-sink"
    with Connection(rabbitmq) as conn:
        Exchange(name, "fanout", durable=False).declare(channel=conn.default_channel)
    yield name
    with Connection(rabbitmq) as conn:
        Exchange(name).delete(channel=conn.default_channel)


def put(url: str, queue: str, *bodies: bytes | str | dict[str, int]) -> None:
    with Connection(url, confirm_publish=True) as conn:
        Queue(queue, durable=False).declare(channel=conn.default_channel)
        for body in bodies:
            conn.Producer().publish(body, routing_key=queue)


# -- a refused publish fails, without --confirm too -----------------------------


def test_publish_to_a_missing_exchange_fails_on_memory() -> None:
    result = cli_run(*MEMORY, "publish", "-e", "missing", "-r", "x", "{}")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "NotFound: NOT_FOUND - no exchange 'missing'" in result.stderr


@pytest.mark.broker
def test_publish_to_a_missing_exchange_fails_on_rabbitmq_without_confirm(
    rabbitmq: str, unique: str
) -> None:
    result = cli_run("--url", rabbitmq, "publish", "-e", unique, "-r", "x", "{}")

    assert result.returncode == 1
    assert result.stdout == ""  # no "published 1 message"
    assert result.stderr == (
        f"kombu-lite publish: error: NotFound: NOT_FOUND - no exchange '{unique}' "
        "in vhost '/' (Basic.publish refused with 404); 1 of 1 messages sent, "
        "none confirmed (no --confirm)\n"
    )


# -- --mandatory: an unroutable message fails (the default with --confirm) ------


@pytest.mark.parametrize("flag", ["--mandatory", "--confirm"])
def test_unroutable_message_fails_on_memory(flag: str) -> None:
    result = cli_run(*MEMORY, "publish", flag, "-r", "no-such-queue", "{}")

    assert result.returncode == 1
    assert "1 of 1 messages not routed: 312 NO_ROUTE" in result.stderr


@pytest.mark.broker
@pytest.mark.parametrize("flag", ["--mandatory", "--confirm"])
def test_unroutable_message_fails_on_rabbitmq(
    rabbitmq: str, sink: str, flag: str
) -> None:
    result = cli_run("--url", rabbitmq, "publish", flag, "-e", sink, "-n", "3", "{}")

    assert result.returncode == 1
    assert result.stderr.startswith(
        "kombu-lite publish: error: 3 of 3 messages not routed: 312 NO_ROUTE "
        f"(exchange '{sink}', routing key ''"
    )


@pytest.mark.broker
def test_no_mandatory_lets_confirm_drop_unroutable_messages(
    rabbitmq: str, sink: str
) -> None:
    result = cli_run(
        "--url", rabbitmq, "publish", "--confirm", "--no-mandatory", "-e", sink, "{}"
    )

    assert result.returncode == 0, result.stderr
    assert "confirmed by the broker" in result.stdout


# -- delete of something missing says so -----------------------------------------


@pytest.mark.parametrize("kind", ["queue", "exchange"])
def test_delete_of_a_missing_entity_says_so_on_memory(kind: str) -> None:
    result = cli_run(*MEMORY, "delete", kind, "missing")
    quiet = cli_run(*MEMORY, "delete", kind, "missing", "--if-exists")

    assert result.returncode == 4
    assert result.stderr.startswith(
        f"kombu-lite delete: error: no {kind} 'missing' (NOT_FOUND"
    )
    assert result.stderr.rstrip().endswith("; nothing deleted")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.broker
@pytest.mark.parametrize("kind", ["queue", "exchange"])
def test_delete_of_a_missing_entity_says_so_on_rabbitmq(
    rabbitmq: str, unique: str, kind: str
) -> None:
    result = cli_run("--url", rabbitmq, "delete", kind, unique)
    quiet = cli_run("--url", rabbitmq, "--json", "delete", kind, unique, "--if-exists")

    assert result.returncode == 4
    assert f"no {kind} '{unique}'" in result.stderr
    assert quiet.returncode == 0
    assert json.loads(quiet.stdout) == {
        "deleted": None,
        "kind": kind,
        "name": unique,
        "existed": False,
    }


# -- get on an empty queue: exit status 3 ----------------------------------------


def test_get_on_an_empty_queue_exits_3_with_a_json_line_on_memory() -> None:
    put("memory://", "q")

    result = run(*MEMORY, "--json", "get", "q")

    assert result.code == 3
    assert json.loads(result.out) == {"queue": "q", "empty": True, "messages": 0}


@pytest.mark.broker
def test_get_on_an_empty_queue_exits_3_on_rabbitmq(rabbitmq: str, queue: str) -> None:
    text = cli_run("--url", rabbitmq, "get", queue)
    as_json = cli_run("--url", rabbitmq, "get", "--json", queue)

    assert (text.returncode, text.stdout) == (3, f"no message in '{queue}'\n")
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["empty"] is True


# -- Ctrl-C during a bulk publish reports what was sent and confirmed ------------


def test_ctrl_c_during_a_bulk_publish_reports_the_counts_on_memory() -> None:
    code, out, err = interrupt_when_drawing(
        *MEMORY, "publish", "--confirm", "--declare-queue", "q", "-n", "50000000", "{}"
    )

    assert (code, out) == (130, "declared queue 'q'\n")
    [line] = [line for line in err.splitlines() if "interrupted" in line]
    assert line.startswith("kombu-lite publish: interrupted: ")
    assert "of 50000000 messages sent, " in line
    sent = int(line.split(": ")[-1].split()[0])
    assert line.endswith(f", {sent} confirmed by the broker")


@pytest.mark.broker
@pytest.mark.parametrize(
    ("flags", "confirmed"),
    [(["--confirm", "--no-mandatory"], True), ([], False)],
    ids=["confirmed", "unconfirmed"],
)
def test_ctrl_c_during_a_bulk_publish_reports_the_counts_on_rabbitmq(
    rabbitmq: str, sink: str, flags: list[str], confirmed: bool
) -> None:
    code, out, err = interrupt_when_drawing(
        "--url", rabbitmq, "publish", *flags, "-e", sink, "-n", "50000000", "{}"
    )

    assert (code, out) == (130, "")
    [line] = [line for line in err.splitlines() if "interrupted" in line]
    sent = int(line.split("interrupted: ")[1].split()[0])
    assert sent > 0
    tail = f"{sent} confirmed by the broker" if confirmed else "none confirmed"
    assert tail in line


# -- bodies cannot drive the terminal; --raw writes them as they are -------------

HOSTILE = "title \x1b]0;pwned\x07 clear \x1b[2J\rback \u202eevil\n2nd"
ESCAPED = ["  title \\x1b]0;pwned\\x07 clear \\x1b[2J\\x0dback \\u202eevil", "  2nd"]


def test_text_mode_escapes_control_characters_on_memory() -> None:
    put("memory://", "q", HOSTILE.encode(), HOSTILE.encode())

    text = run(*MEMORY, "get", "q")
    code, raw = run_bytes(*MEMORY, "get", "q", "--raw")

    assert text.out.splitlines()[1:3] == ESCAPED
    assert "\x1b" not in text.out
    assert (code, raw) == (0, HOSTILE.encode())


@pytest.mark.broker
def test_text_mode_escapes_control_characters_on_rabbitmq(
    rabbitmq: str, queue: str
) -> None:
    put(rabbitmq, queue, HOSTILE.encode(), HOSTILE.encode())

    text = cli_run("--url", rabbitmq, "consume", queue, "-n", "1")
    raw = cli_run("--url", rabbitmq, "get", queue, "--raw")

    assert text.stdout.splitlines()[1:3] == ESCAPED
    assert "\x1b" not in text.stdout
    assert (raw.returncode, raw.stdout) == (0, HOSTILE)


def test_raw_and_json_together_are_a_usage_error() -> None:
    result = run(*MEMORY, "--json", "get", "q", "--raw")

    assert result.code == 2
    assert "--raw and --json" in result.err


# -- with --json, errors are JSON on stderr too ------------------------------------


def test_json_errors_on_memory() -> None:
    failed = cli_run(*MEMORY, "--json", "get", "missing")
    usage = cli_run(*MEMORY, "get", "q", "--count", "0", "--json")

    assert failed.returncode == 1
    assert json.loads(failed.stderr) == {
        "command": "get",
        "error": "NotFound",
        "message": "NOT_FOUND - no queue 'missing' in vhost '/'",
        "exit_status": 1,
        "reply_code": 404,
    }
    assert usage.returncode == 2
    assert json.loads(usage.stderr)["error"] == "UsageError"


@pytest.mark.broker
def test_json_errors_on_rabbitmq(rabbitmq: str, sink: str) -> None:
    result = cli_run(
        "--url", rabbitmq, "--json", "publish", "--confirm", "-e", sink, "1"
    )

    record = json.loads(result.stderr)
    assert result.returncode == 1
    assert (record["command"], record["error"], record["reply_code"]) == (
        "publish",
        "CommandError",
        312,
    )
    assert (record["not_routed"], record["sent"], record["confirmed"]) == (1, 1, 1)


def test_interrupted_in_json_is_a_json_record() -> None:
    code, _out, err = interrupt_when_drawing(
        *MEMORY, "--json", "publish", "-r", "nowhere", "-n", "50000000", "{}"
    )

    [line] = [line for line in err.splitlines() if line.startswith("{")]
    record = json.loads(line)
    assert code == 130
    assert (record["exit_status"], record["total"], record["confirmed"]) == (
        130,
        50000000,
        None,
    )
