"""What people use the command line for (issue 17): publish input and
properties, pipelined confirms, the progress bar, consume's --prefetch,
--exec and exchange taps, bind/unbind, get's --no-ack and --peek, one
meaning for -t, and check.

Each on ``memory://`` (in this process, a thread when the command must
run while the test acts) and on RabbitMQ by subprocess.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.cli._output import Progress
from kombu_lite.transport.memory import default_broker
from tests.cli_helpers import MEMORY, cli_run, cli_start, finish, in_thread, run


@pytest.fixture
def queue(rabbitmq: str, unique: str) -> Iterator[str]:
    with Connection(rabbitmq) as conn:
        Queue(unique, durable=False).declare(channel=conn.default_channel)
    yield unique
    with Connection(rabbitmq) as conn:
        Queue(unique).delete(channel=conn.default_channel)


@pytest.fixture
def exchange(rabbitmq: str, unique: str) -> Iterator[str]:
    name = f"{unique}-x"
    with Connection(rabbitmq) as conn:
        Exchange(name, "topic", durable=False).declare(channel=conn.default_channel)
    yield name
    with Connection(rabbitmq) as conn:
        Exchange(name).delete(channel=conn.default_channel)


def put(url: str, queue: str, *bodies: object) -> None:
    with Connection(url, confirm_publish=True) as conn:
        Queue(queue, durable=False).declare(channel=conn.default_channel)
        for body in bodies:
            conn.Producer().publish(body, routing_key=queue)


def count(url: str, queue: str) -> int:
    with Connection(url) as conn:
        return (
            Queue(queue)
            .queue_declare(passive=True, channel=conn.default_channel)
            .message_count
        )


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def memory_queue(name: str) -> tuple[int, int, int]:
    [info] = [q for q in default_broker().queues() if q.name == name]
    return info.messages_ready, info.messages_unacknowledged, info.consumers


PROPERTIES = [
    "--priority", "5", "--expiration", "60", "--reply-to", "replies",
    "--correlation-id", "c-1", "--message-id", "m-1", "--transient",
]  # fmt: skip
EXPECTED = {
    "priority": 5,
    "expiration": "60000",
    "reply_to": "replies",
    "correlation_id": "c-1",
    "message_id": "m-1",
    "delivery_mode": 1,
}

# -- publish --lines, --file and the property flags ----------------------------


def test_publish_lines_file_and_properties_on_memory(tmp_path: Path) -> None:
    put("memory://", "q")
    source = tmp_path / "bodies.txt"
    source.write_text('{"n": 1}\n"two"\n')
    stdin = io.TextIOWrapper(io.BytesIO(b"3\n4\n"))

    from_file = run(*MEMORY, "publish", "-r", "q", "--lines", "--file", str(source))
    from_stdin = run(*MEMORY, "publish", "-r", "q", "--lines", *PROPERTIES, stdin=stdin)
    typed = run(*MEMORY, "publish", "-r", "q", "--content-type", "text/csv", "a,b")

    assert from_file.out.startswith("published 2 messages (")
    assert (from_stdin.code, typed.code) == (0, 0)
    messages = default_broker().queue_messages("q")
    assert [m.body for m in messages] == [b'{"n": 1}', b'"two"', b"3", b"4", b"a,b"]
    props = messages[3].properties
    assert {key: getattr(props, key) for key in EXPECTED} == EXPECTED
    assert messages[4].properties.content_type == "text/csv"


def test_publish_lines_names_the_bad_line() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"1\nnot json\n"))

    result = run(*MEMORY, "publish", "-r", "q", "--lines", stdin=stdin)

    assert result.code == 2
    assert "line 2: the body is not valid JSON" in result.err


@pytest.mark.broker
def test_publish_lines_and_properties_on_rabbitmq(rabbitmq: str, queue: str) -> None:
    url = ["--url", rabbitmq]
    sent = cli_run(*url, "publish", "-r", queue, "--lines", "--confirm", *PROPERTIES,
                   stdin=b'{"n": 1}\n{"n": 2}\n')  # fmt: skip
    got = cli_run(*url, "get", "--json", "-n", "2", queue)

    assert sent.returncode == 0, sent.stderr
    records = [json.loads(line) for line in got.stdout.splitlines()]
    assert [r["payload"] for r in records] == [{"n": 1}, {"n": 2}]
    assert {k: records[0]["properties"][k] for k in EXPECTED} == EXPECTED


# -- a confirmed batch goes through publish_many -------------------------------


def test_confirmed_batch_uses_publish_many_on_memory() -> None:
    result = run(*MEMORY, "-v", "publish", "--confirm", "--declare-queue", "q",
                 "-n", "500", "{}")  # fmt: skip

    assert result.code == 0, result.err
    assert "publish_many to exchange '' with routing key 'q': 500 confirmed, 0 not" in (
        result.err
    )


@pytest.mark.broker
def test_confirmed_batch_uses_publish_many_on_rabbitmq(
    rabbitmq: str, queue: str
) -> None:
    result = cli_run("--url", rabbitmq, "-v", "publish", "--confirm", "-r", queue,
                     "-n", "2000", "{}")  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"routing key '{queue}': 2000 confirmed, 0 not" in result.stderr
    assert count(rabbitmq, queue) == 2000


# -- the progress bar shows rate and ETA ---------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_rate_and_eta() -> None:
    now = [100.0]
    terminal = Terminal()
    bar = Progress(terminal, 1000, "publishing", clock=lambda: now[0])

    now[0] += 2.0
    bar.update(250)

    assert terminal.getvalue() == (
        "\rpublishing [#######-----------------------]  250/1000  25%"
        "  125/s  ETA 0:06  "
    )


def test_progress_bar_eta_counts_hours() -> None:
    now = [0.0]
    terminal = Terminal()
    bar = Progress(terminal, 100_000, "publishing", clock=lambda: now[0])

    now[0] = 10.0
    bar.update(10)

    assert terminal.getvalue().endswith("  1/s  ETA 27:46:30  ")


# -- consume --prefetch --------------------------------------------------------


def test_consume_prefetch_limits_the_unacknowledged_on_memory() -> None:
    put("memory://", "q", 1, 2, 3)

    sleep = f"{sys.executable} -c 'import time; time.sleep(0.4)'"
    _, result = in_thread(
        *MEMORY, "consume", "q", "--prefetch", "1", "-n", "3", "--exec", sleep
    )
    wait_for(lambda: memory_queue("q")[1] == 1)

    assert memory_queue("q")[:2] == (2, 1)  # one handed out, two held back
    assert result().code == 0


@pytest.mark.broker
def test_consume_prefetch_limits_the_unacknowledged_on_rabbitmq(
    rabbitmq: str, queue: str
) -> None:
    put(rabbitmq, queue, 1, 2, 3)

    process = cli_start("--url", rabbitmq, "consume", queue, "--prefetch", "1",
                        "-n", "3", "--exec", "sleep 0.5")  # fmt: skip
    wait_for(lambda: count(rabbitmq, queue) < 3)
    ready_while_busy = count(rabbitmq, queue)
    out, err = finish(process)

    assert ready_while_busy == 2, err
    assert process.returncode == 0, err
    assert out.count("exited with 0, acknowledged") == 3


# -- consume --exec ------------------------------------------------------------

ECHO = f"{sys.executable} -c 'import sys; print(sys.stdin.read().upper())'"


def test_consume_exec_acks_on_success_and_stops_on_failure_on_memory(
    tmp_path: Path,
) -> None:
    put("memory://", "q", "ok", "fail", "later")
    script = tmp_path / "cmd.py"
    script.write_text("import sys\nsys.exit(sys.stdin.read() == 'fail')\n")

    result = run(*MEMORY, "consume", "q", "-t", "1", "--exec",
                 f"{sys.executable} {script}")  # fmt: skip

    assert result.code == 1
    assert result.out.splitlines()[:2] == [
        f"message 1 from 'q': {sys.executable} exited with 0, acknowledged",
        f"message 2 from 'q': {sys.executable} exited with 1, put back; stopping",
    ]
    assert "1 of 2 runs" in result.err
    assert [m.body for m in default_broker().queue_messages("q")] == [b"fail", b"later"]


def test_consume_exec_reject_drops_failures_and_goes_on() -> None:
    put("memory://", "q", 1, 2)

    result = run(*MEMORY, "--json", "consume", "q", "-t", "0.2", "--exec", "false",
                 "--on-failure", "reject")  # fmt: skip

    assert result.code == 1
    assert [json.loads(line)["outcome"] for line in result.out.splitlines()] == [
        "rejected",
        "rejected",
    ]
    assert default_broker().queue_messages("q") == []


@pytest.mark.broker
def test_consume_exec_pipes_each_body_on_rabbitmq(rabbitmq: str, queue: str) -> None:
    put(rabbitmq, queue, "abc", "def")

    result = cli_run("--url", rabbitmq, "consume", queue, "-n", "2", "--exec", ECHO)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0::2] == [
        "ABC",
        "DEF",
        f"2 of 2 runs of {sys.executable!r} succeeded",
    ]
    assert count(rabbitmq, queue) == 0


# -- consume --exchange: a tap through a temporary exclusive queue -------------


def test_consume_exchange_taps_through_a_temporary_queue_on_memory() -> None:
    with Connection("memory://") as conn:
        Exchange("logs", "topic").declare(channel=conn.default_channel)
    _, result = in_thread(*MEMORY, "--json", "consume", "--exchange", "logs",
                          "--binding-key", "app.*", "-n", "1")  # fmt: skip
    wait_for(lambda: any(q.consumers for q in default_broker().queues()))
    with Connection("memory://") as conn:
        producer = conn.Producer()
        producer.publish({"skip": 1}, exchange="logs", routing_key="db.x")
        producer.publish({"n": 1}, exchange="logs", routing_key="app.x")

    done = result()
    assert done.code == 0, done.err
    record = json.loads(done.out)
    assert (record["payload"], record["routing_key"]) == ({"n": 1}, "app.x")
    assert record["queue"].startswith("amq.gen-")
    assert default_broker().queues() == []  # exclusive: gone with the command


@pytest.mark.broker
def test_consume_exchange_taps_on_rabbitmq(rabbitmq: str, exchange: str) -> None:
    process = cli_start("--url", rabbitmq, "consume", "-e", exchange, "-r", "app.#",
                        "-n", "1", "-t", "20")  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()  # "tapping exchange ...": bound now
    with Connection(rabbitmq, confirm_publish=True) as conn:
        conn.Producer().publish({"n": 7}, exchange=exchange, routing_key="app.x")
    out, err = finish(process)

    assert first.startswith(f"tapping exchange '{exchange}' through 'amq.gen-")
    assert process.returncode == 0, err
    assert '  {"n": 7}' in out


def test_consume_needs_a_queue_or_an_exchange() -> None:
    assert run(*MEMORY, "consume").code == 2
    assert run(*MEMORY, "consume", "q", "--exchange", "x").code == 2


# -- bind and unbind -----------------------------------------------------------


def test_bind_and_unbind_on_memory() -> None:
    put("memory://", "q")
    with Connection("memory://") as conn:
        Exchange("logs", "topic").declare(channel=conn.default_channel)

    bound = run(*MEMORY, "bind", "queue", "q", "-e", "logs", "-r", "a.*")
    keys = [b.routing_key for b in default_broker().bindings() if b.source == "logs"]
    unbound = run(*MEMORY, "unbind", "queue", "q", "-e", "logs", "-r", "a.*")

    assert bound.out == "bound queue 'q' to exchange 'logs' with key 'a.*'\n"
    assert keys == ["a.*"]
    assert unbound.code == 0
    assert [b for b in default_broker().bindings() if b.source == "logs"] == []


def test_bind_exchange_to_exchange_on_memory() -> None:
    with Connection("memory://") as conn:
        Exchange("a", "fanout").declare(channel=conn.default_channel)
        Exchange("b", "fanout").declare(channel=conn.default_channel)

    result = run(*MEMORY, "--json", "bind", "exchange", "b", "--exchange", "a")

    assert json.loads(result.out)["bound"] == "exchange"
    assert [(x.source, x.destination) for x in default_broker().bindings()] == [
        ("a", "b")
    ]


@pytest.mark.broker
def test_bind_and_unbind_on_rabbitmq(rabbitmq: str, queue: str, exchange: str) -> None:
    url = ["--url", rabbitmq]
    publish = (*url, "publish", "--confirm", "-e", exchange, "-r", "job.1", "{}")

    bound = cli_run(*url, "bind", "queue", queue, "-e", exchange, "-r", "job.*")
    routed = cli_run(*publish)
    unbound = cli_run(*url, "unbind", "queue", queue, "-e", exchange, "-r", "job.*")
    unrouted = cli_run(*publish)

    assert (bound.returncode, routed.returncode, unbound.returncode) == (0, 0, 0)
    assert unrouted.returncode == 1  # 312 NO_ROUTE: the binding is gone
    assert count(rabbitmq, queue) == 1


# -- get --no-ack (AMQP's) and --peek ------------------------------------------


def test_get_no_ack_takes_and_peek_puts_back_on_memory() -> None:
    put("memory://", "q", 1, 2)

    peek = run(*MEMORY, "get", "q", "--requeue", "-n", "2")
    after_peek = memory_queue("q")
    taken = run(*MEMORY, "get", "q", "--no-ack")

    assert peek.out.endswith("2 messages put back on the queue\n")
    assert after_peek[:2] == (2, 0)
    assert taken.out.endswith("1 message taken (no-ack)\n")
    assert memory_queue("q")[:2] == (1, 0)  # gone, and nothing to acknowledge


@pytest.mark.broker
def test_get_no_ack_takes_and_peek_puts_back_on_rabbitmq(
    rabbitmq: str, queue: str
) -> None:
    put(rabbitmq, queue, 1, 2)
    url = ["--url", rabbitmq]

    peek = cli_run(*url, "get", queue, "--peek", "-n", "2")
    after_peek = count(rabbitmq, queue)
    taken = cli_run(*url, "get", queue, "--no-ack")

    assert (peek.returncode, after_peek) == (0, 2)
    assert taken.returncode == 0
    assert count(rabbitmq, queue) == 1


# -- -t means --timeout; declare exchange -t still works, with a warning -------


def test_t_is_timeout_and_declare_exchange_t_is_deprecated() -> None:
    put("memory://", "q")

    waited = run(*MEMORY, "get", "q", "-t", "0.05")
    typed = run(*MEMORY, "declare", "exchange", "logs", "-t", "topic")

    assert waited.code == 3
    assert typed.out == "declared exchange 'logs' (topic, durable)\n"
    assert "-t for --type is deprecated" in typed.err


@pytest.mark.broker
def test_consume_t_is_timeout_on_rabbitmq(rabbitmq: str, queue: str) -> None:
    started = time.monotonic()

    result = cli_run("--url", rabbitmq, "consume", queue, "-t", "0.3")

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20


# -- check ---------------------------------------------------------------------


def test_check_on_memory() -> None:
    assert cli_run(*MEMORY, "check").returncode == 0
    missing = cli_run(*MEMORY, "check", "nowhere")
    assert missing.returncode == 1
    assert "queue 'nowhere'" in missing.stderr


@pytest.mark.broker
def test_check_on_rabbitmq(rabbitmq: str, queue: str) -> None:
    put(rabbitmq, queue, 1)

    ok = cli_run("--url", rabbitmq, "--json", "check", queue)
    too_deep = cli_run("--url", rabbitmq, "check", queue, "--max-messages", "0")

    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.splitlines()[1]) == {
        "queue": queue, "ok": True, "messages": 1, "consumers": 0,
    }  # fmt: skip
    assert too_deep.returncode == 1
    assert "1 messages > 0" in too_deep.stderr


# -- in this process too (the subprocess cases above are not measured) -------------


def test_check_reports_depth_and_thresholds_in_process() -> None:
    put("memory://", "q", 1)

    ok = run(*MEMORY, "check", "q")
    failed = run(*MEMORY, "--json", "check", "q", "nowhere", "--max-messages", "0")

    assert ok.out.splitlines()[1] == "queue 'q': 1 message, 0 consumers"
    assert failed.code == 1
    problems = json.loads(failed.err)["problems"]
    assert problems[0] == "queue 'q': 1 messages > 0"
    assert problems[1].startswith("queue 'nowhere': NOT_FOUND")


@pytest.mark.parametrize("kind", ["queue", "exchange"])
def test_delete_missing_in_process(kind: str) -> None:
    loud = run(*MEMORY, "--json", "delete", kind, "gone")
    quiet = run(*MEMORY, "delete", kind, "gone", "--if-exists")

    assert (loud.code, json.loads(loud.err)["exit_status"]) == (4, 4)
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")


def test_usage_error_and_help_with_json_in_process() -> None:
    usage = run(*MEMORY, "--json", "publish", "--priority", "300", "{}")
    helped = run("--json", "get", "--help")

    assert json.loads(usage.err) == {
        "command": "publish",
        "error": "UsageError",
        "message": "argument --priority: must be 0 to 255, not 300 "
        "(see 'kombu-lite publish --help')",
        "exit_status": 2,
    }
    assert helped.code == 0
    assert "--peek, --requeue" in helped.out
