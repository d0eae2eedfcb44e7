"""How ``get`` and ``consume`` show a message: text that cannot drive a terminal.

A body is data from whoever published it.  Printed as it is, an escape
sequence in it could retitle the window, move the cursor, hide lines or
rewrite what was printed before (``\\r``, ``ESC [2K``...).  Text mode
therefore writes every character that is not printable (control
characters, ``ESC``, bidirectional overrides, line and paragraph
separators...) as a Python escape (``\\x1b``, ``\\u202e``); only tabs
and the line breaks between lines are kept.  ``--raw`` writes the bytes as
they are, for a pipe; ``--json`` escapes them the JSON way.
"""

from __future__ import annotations

import base64
import contextlib
from typing import TYPE_CHECKING

from kombu_lite.compression import decompress
from kombu_lite.exceptions import KombuError

if TYPE_CHECKING:
    from kombu_lite.message import Message

__all__ = ["describe", "plain_body", "printable"]


def printable(text: str) -> str:
    """Return ``text`` with every character a terminal would act on escaped.

    Tabs stay; a character :meth:`str.isprintable` refuses (``\\x1b``,
    ``\\r``, ``\\u202e``, ``\\u2028``...) becomes its escape, as
    :func:`repr` writes it; a backslash stays a backslash.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() or char == "\t" else _escape(char) for char in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def plain_body(message: Message) -> tuple[bytes, str | None]:
    """The body with its compression undone, and a note if that failed."""
    method = message.headers.get("compression")
    if not isinstance(method, str):
        return message.body, None
    try:
        return decompress(message.body, method), None
    except KombuError as exc:
        return message.body, f"could not decompress it: {exc}"


def describe(
    message: Message, queue: str, number: int
) -> tuple[str, dict[str, object]]:
    """Return the text and the JSON record that show ``message``."""
    body, problem = plain_body(message)
    content_type = message.content_type or "application/data"
    text: str | None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    record: dict[str, object] = {
        "queue": queue,
        "exchange": message.delivery_info["exchange"],
        "routing_key": message.delivery_info["routing_key"],
        "redelivered": message.redelivered,
        "delivery_tag": message.delivery_tag,
        "size": len(message.body),
        "content_type": content_type,
        "content_encoding": message.content_encoding,
        "headers": message.headers,
        "properties": {
            key: value
            for key, value in message.properties.items()
            if key not in ("headers", "content_type", "content_encoding")
        },
        "body": text if text is not None else base64.b64encode(body).decode(),
        "body_encoding": "utf-8" if text is not None else "base64",
    }
    if content_type == "application/json" and problem is None:
        # Only JSON is decoded: it runs no code, unlike pickle or YAML.
        with contextlib.suppress(KombuError):
            record["payload"] = message.decode()
    lines = [
        f"message {number} from {queue!r}: {len(message.body)} bytes, "
        f"{printable(content_type)}, exchange {record['exchange']!r}, routing key "
        f"{record['routing_key']!r}" + (", redelivered" if message.redelivered else "")
    ]
    if message.headers:
        shown = ", ".join(
            f"{printable(str(key))}={value!r}" for key, value in message.headers.items()
        )
        lines.append(f"  headers: {shown}")
    if problem is not None:
        lines.append(f"  ({printable(problem)})")
    if text is not None:
        # Split at \n (and \r\n) only, not splitlines(): a lone \r, \x0b,
        # \u2028... is escaped, not taken as a line break.
        parts = text.replace("\r\n", "\n").split("\n")
        if len(parts) > 1 and not parts[-1]:
            parts.pop()
        lines.extend(f"  {printable(line)}" for line in parts)
    else:
        lines.append(
            f"  <{len(body)} bytes of binary data; use --json to get them in "
            "base64, or --raw for the bytes>"
        )
    return "\n".join(lines), record
