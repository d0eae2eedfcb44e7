"""The JSON codec behind the ``json`` serializer, wire-compatible with kombu.

Types JSON cannot express travel in kombu's envelope (kombu >= 5.3)::

    {"__type__": "<marker>", "__value__": <value>}

=============================  ============  ===============================
Python type                    marker        ``__value__``
=============================  ============  ===============================
:class:`datetime.datetime`     ``datetime``  ``isoformat()``
:class:`datetime.date`         ``date``      ``isoformat()``
:class:`datetime.time`         ``time``      ``isoformat()``
:class:`decimal.Decimal`       ``decimal``   ``str(value)``
:class:`uuid.UUID`             ``uuid``      ``{"hex": value.hex}``
:class:`bytes` (UTF-8 text)    ``bytes``     the text
:class:`bytes` (other)         ``base64``    base64 text
=============================  ============  ===============================

The output is byte for byte what ``kombu.utils.json.dumps`` writes (same
separators, ASCII escapes), so kombu reads what we write and we read what
kombu writes.  Objects with a ``__json__()`` method are encoded as what it
returns, as kombu does.

The type table is an explicit object, :class:`JSONCodec`; the module
functions are bound to the default instance :data:`codec`, and
:meth:`JSONCodec.reset` restores its built-in types (for tests).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from kombu_lite.exceptions import ConfigurationError, DecodeError, EncodeError

#: json's whitespace (space, tab, newline, carriage return), as decode() skips it.
_WHITESPACE: Final = " \t\n\r"

#: json's C encoder factory; None without the C accelerator (not CPython).
_c_make_encoder: Callable[..., Any] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_encode_ascii = json.encoder.encode_basestring_ascii

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["JSONCodec", "codec", "dumps", "loads", "register_type"]

#: Bodies one C encoder encodes before it is made again (its key memo
#: keeps every dict key it met, so it must not live for ever).
_C_ENCODER_USES = 1024

_TYPE = "__type__"
_VALUE = "__value__"


def _identity(value: Any) -> Any:
    return value


def _uuid_from_json(value: Any) -> uuid.UUID:
    # kombu writes {"hex": ...}; a bare string is accepted too so hand-written
    # messages decode.
    if isinstance(value, str):
        return uuid.UUID(value)
    return uuid.UUID(hex=value["hex"])


def _bytes_from_base64(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"), validate=True)


class JSONCodec:
    """JSON encoding and decoding with a table of extra types.

    Each instance has its own table; :data:`codec` is the one the ``json``
    serializer uses.
    """

    def __init__(self) -> None:
        self._encoders: dict[type, tuple[str | None, Callable[[Any], Any]]] = {}
        self._decoders: dict[str, Callable[[Any], Any]] = {}
        # Built once: json.dumps(obj, default=...) builds a new encoder on
        # every call, which shows up in the publish loop.  The settings are
        # json's defaults, which are also kombu's, so the bytes match kombu's.
        self._encoder = json.JSONEncoder(default=self._default)
        # The C encoder dumps() reuses, and how many more bodies it may
        # encode before it is made again (see dumps()).
        self._c_encoder: Callable[..., Any] | None = None
        self._c_encoder_left = 0
        self._decoder = json.JSONDecoder(object_hook=self._object_hook)
        # The decoder's scanner (json's C one where it is built), called
        # directly by loads(): JSONDecoder.decode's two Python-level calls
        # and its two regex matches cost more than scanning a small body.
        self._scan: Callable[[str, int], tuple[Any, int]] = self._decoder.scan_once  # type: ignore[attr-defined]  # not in typeshed
        # The same without the object hook, for a text that cannot hold an
        # envelope (see loads()): the hook is a Python call per dict.
        self._plain_scan: Callable[[str, int], tuple[Any, int]] = (
            json.JSONDecoder().scan_once  # type: ignore[attr-defined]
        )
        self.reset()

    def reset(self) -> None:
        """Forget registered types and restore the built-in ones."""
        self._encoders.clear()
        self._decoders.clear()
        self._decoders["bytes"] = lambda value: value.encode("utf-8")
        self._decoders["base64"] = _bytes_from_base64
        # datetime before date: a datetime is also a date, and the subclass
        # scan in _default takes the first match.
        self.register_type(
            datetime, "datetime", datetime.isoformat, datetime.fromisoformat
        )
        self.register_type(date, "date", date.isoformat, date.fromisoformat)
        self.register_type(time, "time", time.isoformat, time.fromisoformat)
        self.register_type(Decimal, "decimal", str, Decimal)
        self.register_type(
            uuid.UUID, "uuid", lambda value: {"hex": value.hex}, _uuid_from_json
        )

    def register_type(
        self,
        type_: type[Any],
        marker: str | None,
        encoder: Callable[[Any], Any],
        decoder: Callable[[Any], Any] | None = None,
    ) -> None:
        """Teach the codec a type JSON cannot express.

        Args:
            type_: The Python type; subclasses match too.
            marker: The ``__type__`` name written in the envelope.  ``None``
                writes ``encoder(value)`` bare, with no envelope: the
                receiver gets the plain JSON value.
            encoder: Turns a value into something JSON can express.
            decoder: Turns the ``__value__`` back into the type; defaults to
                returning it unchanged, as kombu does.

        Raises:
            ConfigurationError: ``marker`` is the empty string.
        """
        if marker == "":
            raise ConfigurationError(
                f"marker for {type_!r} must be a non-empty str, or None for no envelope"
            )
        self._encoders[type_] = (marker, encoder)
        if marker is not None:
            self._decoders[marker] = _identity if decoder is None else decoder

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` as JSON, returned as UTF-8 bytes.

        Raises:
            EncodeError: ``obj`` holds a value of a type the codec does not
                know, a circular reference, or a ``__json__`` that failed.
        """
        try:
            if _c_make_encoder is None or type(obj) is str:
                return self._encoder.encode(obj).encode("utf-8")
            # What JSONEncoder.encode does for a non-str with json's default
            # settings (kombu's too), without its two Python-level calls,
            # and with one C encoder kept for many bodies: making one costs
            # a fifth of a small body's encoding, and it remembers the
            # encoded dict keys.  It has no cycle markers (a circular body
            # ends in RecursionError, told apart below), and it is made
            # again every _C_ENCODER_USES bodies, which bounds its key
            # memo.  It holds no other state, so threads may share it.
            encode = self._c_encoder
            left = self._c_encoder_left
            if encode is None or left <= 0:
                encode = self._c_encoder = _c_make_encoder(
                    None, self._default, _encode_ascii, None, ": ", ", ",
                    False, False, True,
                )  # fmt: skip
                left = _C_ENCODER_USES
            self._c_encoder_left = left - 1
            return "".join(encode(obj, 0)).encode("utf-8")
        except RecursionError as exc:
            raise EncodeError(self._recursion_detail(obj, exc)) from exc
        except (TypeError, ValueError) as exc:
            raise EncodeError(str(exc)) from exc

    def _recursion_detail(self, obj: Any, exc: RecursionError) -> str:
        """Why ``obj`` nests too deep: a circular reference, or just deep."""
        try:
            self._encoder.encode(obj)  # with cycle markers
        except (TypeError, ValueError, RecursionError) as marked:
            return str(marked)
        return str(exc)  # pragma: no cover - encoded the second time

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        """Decode JSON text or UTF-8 bytes, turning envelopes back into types.

        Raises:
            DecodeError: the data is not UTF-8 or not JSON, an envelope has an
                unknown marker, or its value does not decode.
        """
        try:
            text = data if isinstance(data, str) else str(data, "utf-8")
            # An envelope's "__type__" key is in the text as it is, or
            # spelt with escapes: without either, no dict is one.  (A
            # backslash is looked for, not "\\u": one byte is found faster.)
            scan = self._scan if _TYPE in text or "\\" in text else self._plain_scan
            try:
                obj, end = scan(text, 0)
            except StopIteration:
                # No value at 0: leading whitespace, or not JSON.  decode()
                # skips the one and raises json's own error for the other.
                return self._decoder.decode(text)
            if end != len(text):
                # Trailing whitespace is allowed; anything else is json's
                # "Extra data", raised as decode() raises it.
                tail = text[end:]
                spaces = len(tail) - len(tail.lstrip(_WHITESPACE))
                if spaces != len(tail):
                    raise json.JSONDecodeError("Extra data", text, end + spaces)
            return obj
        except DecodeError:
            raise
        except Exception as exc:
            # Not only JSONDecodeError/UnicodeDecodeError: a registered
            # decoder may raise anything on a malformed envelope value.
            raise DecodeError(f"invalid JSON body: {exc}") from exc

    def _default(self, obj: Any) -> Any:
        # Called by the json encoder for every value it cannot express; the
        # order (``__json__``, registered types, bytes) is kombu's.
        reducer = getattr(obj, "__json__", None)
        if reducer is not None:
            return reducer()
        entry = self._encoders.get(type(obj))
        if entry is None:
            for type_, candidate in self._encoders.items():
                if isinstance(obj, type_):
                    entry = candidate
                    break
        if entry is not None:
            marker, encoder = entry
            value = encoder(obj)
            return value if marker is None else {_TYPE: marker, _VALUE: value}
        if isinstance(obj, bytes):
            try:
                return {_TYPE: "bytes", _VALUE: obj.decode("utf-8")}
            except UnicodeDecodeError:
                return {_TYPE: "base64", _VALUE: base64.b64encode(obj).decode("ascii")}
        raise TypeError(
            f"Object of type {type(obj).__name__} is not JSON serializable; "
            "register it with kombu_lite.utils.json.register_type() or pick another "
            "serializer"
        )

    def _object_hook(self, obj: dict[str, Any]) -> Any:
        # Only a dict with exactly the two envelope keys is an envelope
        # (kombu's rule), so ordinary dicts pass through untouched.
        if len(obj) != 2 or _TYPE not in obj or _VALUE not in obj:
            return obj
        marker = obj[_TYPE]
        decoder = self._decoders.get(marker) if isinstance(marker, str) else None
        if decoder is None:
            raise DecodeError(
                f"unknown JSON type marker {marker!r}: register it with "
                "kombu_lite.utils.json.register_type() on the consuming side"
            )
        return decoder(obj[_VALUE])


#: The codec the ``json`` serializer uses.
codec = JSONCodec()
dumps = codec.dumps
loads = codec.loads
register_type = codec.register_type
