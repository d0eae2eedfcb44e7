"""Green threads: one connection shared by eventlet's or gevent's green threads.

Each scenario runs in a process of its own (``scenario.py``): monkey
patching has to come before anything imports :mod:`socket` or
:mod:`threading`, and must not leak into this test session.  The child
prints a JSON result that the test asserts on; a subprocess timeout
bounds it, and every scenario has a deadline of its own inside.

eventlet and gevent are in the ``test`` extra.  Where one is missing its
tests skip, unless ``KOMBU_LITE_REQUIRE_BROKER`` is set (as in CI): then
they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kombu_lite import Connection
from tests.conftest import REQUIRE_BROKER
from tests.scripted_peer import PeerSession, ScriptedPeer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HUBS = ("eventlet", "gevent")
#: Longer than any scenario's own deadline, shorter than pytest's timeout.
SUBPROCESS_TIMEOUT = 50.0


def run_script(script: str, *args: str) -> Any:
    """Run ``tests/green/<script>`` with this worktree first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(ROOT), env.get("PYTHONPATH", "")) if part
    )
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(params=HUBS)
def hub(request: pytest.FixtureRequest) -> str:
    """``eventlet`` or ``gevent``; skips (fails in CI) when not installed."""
    name: str = request.param
    if importlib.util.find_spec(name) is None:
        reason = f"{name} is not installed (it is in the 'test' extra)"
        if REQUIRE_BROKER:
            pytest.fail(reason + " and KOMBU_LITE_REQUIRE_BROKER is set")
        pytest.skip(reason)
    return name


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.broker)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    rabbit: str = request.getfixturevalue("rabbitmq")
    return rabbit


@pytest.fixture
def queue_name(url: str, unique: str) -> Iterator[str]:
    """A fresh SimpleQueue name; its queue and exchange deleted afterwards."""
    name = f"{unique}-green"
    yield name
    if url.startswith("amqp"):  # memory:// lived in the child process only
        with Connection(url) as conn:
            channel = conn.default_channel
            channel.queue_delete(name)
            channel.exchange_delete(name)


def test_importing_kombu_lite_makes_no_lock() -> None:
    # A lock made at import is a real OS lock in a program that imports
    # kombu_lite before monkey patching: it would block the whole hub.
    assert run_script("import_locks.py") == []


@pytest.mark.slow
@pytest.mark.parametrize("order", ["patch-first", "import-first"])
def test_ten_green_threads_publish_through_one_simple_queue(
    hub: str, order: str, url: str, queue_name: str
) -> None:
    # kombu's examples/simple_eventlet_send.py, ten rounds in a row.
    result = run_script("scenario.py", hub, order, "publishers", url, queue_name)

    assert result["errors"] == []
    assert result["succeeded"] == result["publishers"] == 100
    assert result["received"] == result["expected"]  # each exactly once


@pytest.mark.slow
def test_a_green_consumer_receives_while_green_threads_publish(
    hub: str, url: str, queue_name: str
) -> None:
    result = run_script("scenario.py", hub, "patch-first", "consumer", url, queue_name)

    assert result["errors"] == []
    assert result["succeeded"] == result["publishers"] == 10
    assert result["received"] == result["expected"]  # each exactly once
    assert result["received_while_publishing"] > 0


@pytest.mark.slow
@pytest.mark.broker
def test_an_idle_green_consumer_stays_connected_by_heartbeats(
    hub: str, rabbitmq: str, unique: str
) -> None:
    name = f"{unique}-green-hb"
    try:
        result = run_script(
            "scenario.py", hub, "patch-first", "heartbeat", rabbitmq, name
        )
    finally:
        with Connection(rabbitmq) as conn:
            conn.default_channel.queue_delete(name)
            conn.default_channel.exchange_delete(name)

    assert result["errors"] == []
    assert result["thread_errors"] == []
    assert result["received"] == ["after-idle"]
    assert result["alive"] is True


@pytest.mark.slow
def test_the_green_heartbeat_finds_a_silent_peer_dead(hub: str) -> None:
    def script(peer: PeerSession) -> None:
        peer.idle(15)  # reads the client's heartbeats, sends none

    with ScriptedPeer(script, heartbeat=1) as peer:
        result = run_script(
            "scenario.py", hub, "patch-first", "silent-peer", peer.url, ""
        )

    assert result["thread_errors"] == []
    assert result["outcome"] == ["ConnectionLost"]
    assert result["seconds"] < 6
