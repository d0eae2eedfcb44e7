"""kombu's ``kombu.utils.json`` path: the codec of the ``json`` serializer.

``register_type`` teaches the ``json`` serializer a type, on the producing
and on the consuming side, exactly as kombu's does; ``dumps`` and ``loads``
use the same codec, so a test can check what a body will look like.
"""

from __future__ import annotations

from typing import Any

from kombu_lite import _json

__all__ = ["dumps", "loads", "register_type"]

register_type = _json.register_type


def dumps(s: Any) -> str:
    """Encode ``s`` as the ``json`` serializer does, as a ``str`` (as kombu).

    Raises:
        EncodeError: ``s`` holds a value of a type the codec does not know.
    """
    return _json.dumps(s).decode("utf-8")


def loads(s: str | bytes | bytearray | memoryview) -> Any:
    """Decode JSON text or UTF-8 bytes, envelopes turned back into types.

    Raises:
        DecodeError: not UTF-8, not JSON, or an unknown type marker.
    """
    return _json.loads(s)
