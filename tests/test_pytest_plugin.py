"""The pytest plugin (kombu_lite.pytest_plugin), tried in pytest runs of its own.

This suite itself runs with ``-p no:kombu_lite`` (see pyproject.toml), so
the plugin is exercised only inside pytester's runs, where pytest loads it
through its ``pytest11`` entry point as it would in a user's project.
"""

from __future__ import annotations

import importlib.metadata
import socket
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in this process, the way a user's project would.

    Without hypothesis's plugin: its summary imports hypothesis, which
    pytester unloads after every run, making each run a second slower.
    """
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


@pytest.fixture
def no_broker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOMBU_LITE_BROKER_URL", raising=False)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")

    assert ("kombu_lite", "kombu_lite.pytest_plugin") in [
        (entry.name, entry.value) for entry in entry_points
    ]


def test_memory_fixture_starts_every_test_on_an_empty_broker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from kombu_lite import Queue

        def test_publish(kombu_lite_memory, kombu_lite_memory_broker):
            producer = kombu_lite_memory.Producer(routing_key="q")
            producer.publish({"n": 1}, declare=[Queue("q")])
            [message] = kombu_lite_memory_broker.queue_messages("q")
            assert message.body == b'{"n": 1}'

        def test_after(kombu_lite_memory_broker):
            assert kombu_lite_memory_broker.queues() == []
        """
    )

    run(pytester).assert_outcomes(passed=2)


def test_memory_connection_is_closed_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from kombu_lite.transport.memory import default_broker

        def test_connect(kombu_lite_memory):
            kombu_lite_memory.connect()
            assert default_broker().statistics().connections == 1

        def test_after():
            assert default_broker().statistics().connections == 0
        """
    )

    run(pytester).assert_outcomes(passed=2)


def test_broker_url_fixture_skips_when_no_broker_is_given(
    pytester: pytest.Pytester, no_broker_env: None
) -> None:
    pytester.makepyfile("def test_it(kombu_lite_broker_url): pass")

    result = run(pytester, "-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no broker given: pass --kombu-lite-broker-url*"])


def test_broker_url_fixture_skips_when_the_broker_is_unreachable(
    pytester: pytest.Pytester, no_broker_env: None
) -> None:
    pytester.makepyfile("def test_it(kombu_lite_broker_url): pass")
    url = f"amqp://guest:s3cret-pw@127.0.0.1:{free_port()}//"

    result = run(pytester, "-rs", "--kombu-lite-broker-url", url)

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no broker reachable at amqp://guest:**@127.0.0.1*"])
    assert "s3cret-pw" not in result.stdout.str()


def test_broker_url_fixture_reads_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMBU_LITE_BROKER_URL", "memory://")
    pytester.makepyfile(
        """
        def test_it(kombu_lite_broker_url):
            assert kombu_lite_broker_url == "memory://"
        """
    )

    run(pytester).assert_outcomes(passed=1)


def test_broker_url_option_wins_over_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMBU_LITE_BROKER_URL", "amqp://elsewhere//")
    pytester.makepyfile(
        """
        def test_it(kombu_lite_broker_url):
            assert kombu_lite_broker_url == "memory://"
        """
    )

    result = run(pytester, "--kombu-lite-broker-url", "memory://")

    result.assert_outcomes(passed=1)


def test_broker_url_fixture_fails_on_a_broker_that_refuses_the_vhost(
    pytester: pytest.Pytester, no_broker_env: None
) -> None:
    pytester.makepyfile("def test_it(kombu_lite_broker_url): pass")

    result = run(pytester, "--kombu-lite-broker-url", "memory://localhost/nope")

    result.assert_outcomes(errors=1)


def test_the_plugin_adds_no_warnings_to_a_strict_suite(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_plain(): assert True")

    run(pytester, "-W", "error").assert_outcomes(passed=1)


# -- the testing guide's example -------------------------------------------------

GUIDE_EXAMPLE = (
    Path(__file__).resolve().parent.parent / "docs" / "examples" / "test_orders.py"
)


def run_in_a_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in a new interpreter, as a user's project would.

    The example imports more of kombu_lite than the runs above do.  In
    this process, pytester's clean-up of modules between runs can leave
    two copies of kombu_lite's classes, which refuse each other's objects;
    a new interpreter has one copy.
    """
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", *args)


def test_the_testing_guide_example_passes_on_memory(
    pytester: pytest.Pytester, no_broker_env: None
) -> None:
    pytester.makepyfile(test_orders=GUIDE_EXAMPLE.read_text())

    result = run_in_a_subprocess(pytester, "-rs")

    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*no broker given*"])


@pytest.mark.broker
def test_the_testing_guide_example_passes_on_rabbitmq(
    pytester: pytest.Pytester, rabbitmq: str
) -> None:
    pytester.makepyfile(test_orders=GUIDE_EXAMPLE.read_text())

    result = run_in_a_subprocess(pytester, "--kombu-lite-broker-url", rabbitmq)

    result.assert_outcomes(passed=3)
