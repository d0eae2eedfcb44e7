"""The command line: ``python -m kombu_lite demo``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kombu_lite.cli import main


def test_demo_runs_on_memory_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kombu_lite", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "kombu_lite demo on memory://" in result.stdout
    assert "read back from 'kombu_lite.demo.tasks'" in result.stdout
    assert "'serializer': 'pickle'" in result.stdout


def test_demo_prints_what_it_published_and_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0

    out = capsys.readouterr().out
    assert out.count("published") == 5
    assert out.count("read back") == 5


@pytest.mark.broker
def test_demo_runs_against_rabbitmq(
    rabbitmq: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--url", rabbitmq]) == 0

    assert capsys.readouterr().out.count("read back") == 5


def test_error_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--url", "amqp://user:s3cr#t@host//"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "s3cr" not in err
    assert "Traceback" not in err


def test_unreachable_broker_is_reported_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    code = main(["demo", "--url", f"amqp://guest:hunter2@127.0.0.1:{port}//"])

    err = capsys.readouterr().err
    assert code == 1
    assert "OperationalError" in err
    assert "hunter2" not in err
