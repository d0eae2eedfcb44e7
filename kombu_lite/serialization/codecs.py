"""The values a serializer registry hands out, and the built-in serializers.

A :class:`Codec` is one serializer resolved for the publish path; an
:class:`Entry` is what a :class:`~kombu_lite.serialization.SerializerRegistry`
stores per serializer.  :func:`builtin_entries` are json, pickle, YAML and
msgpack (the last two import their library on first use), and the
functions below build the codecs of ``raw`` and of the automatic choice.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kombu_lite import _json
from kombu_lite.exceptions import (
    EncodeError,
    SerializerNotInstalled,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType


__all__ = [
    "BINARY_ENCODINGS",
    "DEFAULT_SERIALIZER",
    "INSECURE",
    "PICKLE_PROTOCOL",
    "TRUSTED_CONTENT_TYPES",
    "Codec",
    "Entry",
    "auto_codec",
    "builtin_entries",
    "fixed_codec",
    "raw_dump",
    "raw_encode",
    "raw_labels",
]

#: Content types every consumer decodes, whatever its ``accept`` list: they
#: carry plain bytes or text, which run no code when decoded.  ``text/plain``
#: (a ``str`` body) is among them: kombu refuses it with ``accept=['json']``,
#: so a ``str`` published by a producer could not be read by its consumer.
TRUSTED_CONTENT_TYPES = frozenset(
    {"application/data", "application/text", "text/plain"}
)

#: Content encodings meaning "bytes, not text": never decoded to ``str``.
BINARY_ENCODINGS = frozenset({"binary", "ascii-8bit"})

#: kombu writes pickle protocol 4; we do too so older kombu consumers read it.
PICKLE_PROTOCOL = 4

DEFAULT_SERIALIZER = "json"
INSECURE = ("pickle", "yaml", "msgpack")


@dataclass(frozen=True, slots=True, kw_only=True)
class Codec:
    """A serializer resolved once, for the publish hot loop.

    Get one from :meth:`SerializerRegistry.encoder_for`; it keeps working
    even if the registry changes later.

    Attributes:
        name: The serializer name, or ``None`` for the automatic choice
            (``bytes`` as they are, ``str`` as UTF-8 text, anything else with
            the default serializer).
        content_type: The content type of every payload, or ``None`` when it
            depends on the body (automatic choice, ``raw``): then ask
            :meth:`content_type_for`.
        content_encoding: Likewise for the content encoding.
        encode: ``encode(body) -> bytes``; raises :class:`EncodeError`.
    """

    name: str | None
    content_type: str | None
    content_encoding: str | None
    encode: Callable[[Any], bytes] = field(repr=False, compare=False)
    _labels: Callable[[Any], tuple[str, str]] = field(repr=False, compare=False)
    #: ``dump(body) -> (payload, content_type, content_encoding)`` in one
    #: call: what :meth:`dumps` returns, in the order the publish path uses.
    dump: Callable[[Any], tuple[bytes, str, str]] = field(repr=False, compare=False)

    def content_type_for(self, body: Any) -> tuple[str, str]:
        """Return ``(content_type, content_encoding)`` for this body."""
        return self._labels(body)

    def dumps(self, body: Any) -> tuple[str, str, bytes]:
        """Encode a body: ``(content_type, content_encoding, payload)``.

        Raises:
            EncodeError: the serializer could not encode the body.
        """
        payload = self.encode(body)
        content_type, content_encoding = self._labels(body)
        return content_type, content_encoding, payload


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    content_type: str
    content_encoding: str
    encoder: Callable[[Any], bytes | str] | None
    decoder: Callable[[bytes], Any] | None
    #: Imports the library the codec needs; raises SerializerNotInstalled.
    requires: Callable[[], object] | None = None


def _encode_text(body: str) -> bytes:
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"str body is not valid UTF-8 text: {exc}") from exc


def raw_encode(body: Any) -> bytes:
    if isinstance(body, str):
        return _encode_text(body)
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise EncodeError(
        f"serializer 'raw' sends bytes or str as they are, not a "
        f"{type(body).__name__}; pick a serializer such as 'json'"
    )


def raw_labels(body: Any) -> tuple[str, str]:
    return "application/data", "utf-8" if isinstance(body, str) else "binary"


def _encode_failed(name: str, body: Any, exc: Exception) -> EncodeError:
    return EncodeError(
        f"serializer {name!r} could not encode a body of type "
        f"{type(body).__name__}: {exc}"
    )


def _as_bytes(name: str, payload: object, text_encoding: str) -> bytes:
    """A serializer's non-bytes result as bytes.

    Raises:
        EncodeError: it is neither text nor bytes-like.
    """
    if isinstance(payload, str):
        return payload.encode(text_encoding)
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    raise EncodeError(
        f"serializer {name!r} returned a {type(payload).__name__}, not bytes or str"
    )


def fixed_codec(entry: Entry, encoder: Callable[[Any], bytes | str]) -> Codec:
    name = entry.name
    labels = (entry.content_type, entry.content_encoding)
    text_encoding = (
        "utf-8"
        if entry.content_encoding.lower() in BINARY_ENCODINGS
        else entry.content_encoding
    )

    def encode(body: Any) -> bytes:
        try:
            payload = encoder(body)
        except SerializerNotInstalled:
            raise
        except Exception as exc:
            raise _encode_failed(name, body, exc) from exc
        if type(payload) is bytes:
            return payload
        return _as_bytes(name, payload, text_encoding)

    content_type, content_encoding = labels

    def dump(body: Any) -> tuple[bytes, str, str]:
        # encode() inlined: this runs once per serialized publish, and a
        # call level costs more than the few lines it would save.
        try:
            payload = encoder(body)
        except SerializerNotInstalled:
            raise
        except Exception as exc:
            raise _encode_failed(name, body, exc) from exc
        if type(payload) is not bytes:
            payload = _as_bytes(name, payload, text_encoding)
        return payload, content_type, content_encoding

    return Codec(
        name=name,
        content_type=entry.content_type,
        content_encoding=entry.content_encoding,
        encode=encode,
        _labels=lambda body: labels,
        dump=dump,
    )


def raw_dump(body: Any) -> tuple[bytes, str, str]:
    return raw_encode(body), *raw_labels(body)


def auto_codec(default: Codec) -> Codec:
    default_encode = default.encode
    default_labels = default.content_type_for
    default_dump = default.dump

    def dump(body: Any) -> tuple[bytes, str, str]:
        # The common bodies first: a dict goes to the default serializer
        # after two cheap type checks.
        kind = type(body)
        if kind is dict or kind is list:
            return default_dump(body)
        if isinstance(body, bytes):
            return body, "application/data", "binary"
        if isinstance(body, str):
            return _encode_text(body), "text/plain", "utf-8"
        return default_dump(body)

    def encode(body: Any) -> bytes:
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return _encode_text(body)
        return default_encode(body)

    def labels(body: Any) -> tuple[str, str]:
        if isinstance(body, bytes):
            return "application/data", "binary"
        if isinstance(body, str):
            return "text/plain", "utf-8"
        return default_labels(body)

    return Codec(
        name=None,
        content_type=None,
        content_encoding=None,
        encode=encode,
        _labels=labels,
        dump=dump,
    )


# -- built-in serializers ---------------------------------------------------------


def _pickle_dumps(body: Any) -> bytes:
    import pickle  # here, not at the top: keeps importing this module cheap

    return pickle.dumps(body, protocol=PICKLE_PROTOCOL)


def _pickle_loads(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)


def _optional(module: str, serializer: str, package: str) -> ModuleType:
    # Optional libraries are imported on first use (after that this is a
    # sys.modules lookup) so that importing kombu_lite stays cheap.
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SerializerNotInstalled(
            f"serializer {serializer!r} needs {package}, which is not installed "
            f"here: pip install 'kombu-lite[{serializer}]'",
            extra=serializer,
        ) from exc


def _yaml_dumps(body: Any) -> bytes:
    text: str = _optional("yaml", "yaml", "PyYAML").safe_dump(body)
    return text.encode("utf-8")


def _yaml_loads(data: bytes) -> Any:
    # PyYAML reads bytes (and their BOM) itself but takes other buffers for
    # streams, so those are copied to bytes.
    return _optional("yaml", "yaml", "PyYAML").safe_load(bytes(data))


def _msgpack_dumps(body: Any) -> bytes:
    packed: bytes = _optional("msgpack", "msgpack", "msgpack").packb(
        body, use_bin_type=True
    )
    return packed


def _msgpack_loads(data: bytes) -> Any:
    return _optional("msgpack", "msgpack", "msgpack").unpackb(data, raw=False)


def builtin_entries() -> list[Entry]:
    pickle_type, yaml_type = "application/x-python-serialize", "application/x-yaml"
    return [
        Entry("json", "application/json", "utf-8", _json.dumps, _json.loads),
        Entry("pickle", pickle_type, "binary", _pickle_dumps, _pickle_loads),
        Entry(
            "yaml", yaml_type, "utf-8", _yaml_dumps, _yaml_loads,
            requires=lambda: _optional("yaml", "yaml", "PyYAML"),
        ),
        Entry(
            "msgpack", "application/x-msgpack", "binary", _msgpack_dumps,
            _msgpack_loads, requires=lambda: _optional("msgpack", "msgpack", "msgpack"),
        ),
    ]  # fmt: skip
