"""``mypy --strict`` on a user's code catches the keyword and type mistakes.

The factories of ``Connection`` have the real signatures and
``publish(**properties)`` is typed with ``Unpack[MessageProperties]``, so
a misspelt keyword or a wrongly typed property is a type error in the
user's code, not only an error at run time.  mypy runs here in a
subprocess, on a file written for the test, against this checkout's
kombu_lite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kombu_lite

pytest.importorskip("mypy", reason="mypy comes with the 'dev' extra")
pytestmark = pytest.mark.timeout(180)

CHECKOUT = Path(kombu_lite.__file__).resolve().parent.parent

# Each line ending in ``# E: <text>`` must get a mypy error holding <text>;
# every other line none.
USER_CODE = """\
from kombu_lite import Connection, Queue

with Connection("memory://") as conn:
    producer = conn.Producer(serialiser="json")  # E: Unexpected keyword argument "serialiser"; did you mean "serializer"?
    producer.publish({}, routing_kye="q")  # E: Unexpected keyword argument "routing_kye" for "publish" of "Producer"; did you mean "routing_key"?
    producer.publish({}, serializer=1)  # E: Argument "serializer" to "publish" of "Producer" has incompatible type "int"
    producer.publish({}, correlation_id=5)  # E: Argument "correlation_id" to "publish" of "Producer" has incompatible type "int"
    producer.publish_many([{}], routing_kye="q")  # E: did you mean "routing_key"?
    conn.Consumer([Queue("q")], callbaks=[])  # E: Unexpected keyword argument "callbaks"; did you mean "callbacks"?
    conn.SimpleQueue("q", serialiser="json")  # E: Unexpected keyword argument "serialiser"; did you mean "serializer"?
    conn.SimpleBuffer("q", no_akc=True)  # E: Unexpected keyword argument "no_akc"; did you mean "no_ack"?
    conn.Pool(limt=1)  # E: Unexpected keyword argument "limt"; did you mean "limit"?
    conn.ChannelPool(limt=1)  # E: Unexpected keyword argument "limt"; did you mean "limit"?
    Queue("q", durabel=True)  # E: Unexpected keyword argument "durabel" for "Queue"; did you mean "durable"?
    conn.Producer("not a channel")  # E: Argument 1 has incompatible type "str"
    conn.Producer(serializer="json", compression="zlib").publish(
        {}, routing_key="q", correlation_id="1", reply_to=Queue("r"), timestamp=1
    )
    conn.Pool(2, preload=1, close_after_fork=True)
"""  # noqa: E501


def test_mypy_strict_reports_each_mistake_on_its_line(tmp_path: Path) -> None:
    user = tmp_path / "user.py"
    user.write_text(USER_CODE)
    env = {**os.environ, "MYPYPATH": str(CHECKOUT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",  # the library's own check is `mypy`'s
            "--no-error-summary",
            "--hide-error-context",
            "--cache-dir",
            str(tmp_path / "cache"),
            "user.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )

    errors: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"user\.py:(\d+): error: (.*)", line)
        if match:
            errors.setdefault(int(match[1]), []).append(match[2])
    expected = {
        number: text.split("# E: ", 1)[1]
        for number, text in enumerate(USER_CODE.splitlines(), start=1)
        if "# E: " in text
    }
    assert sorted(errors) == sorted(expected), result.stdout + result.stderr
    for number, text in expected.items():
        assert any(text in error for error in errors[number]), (number, errors[number])
