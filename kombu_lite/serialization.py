"""Serializers: turn message bodies into bytes and back, by name or content type.

A :class:`SerializerRegistry` maps serializer names (``'json'``) to content
types (``'application/json'``) and their encoders and decoders.  The module
holds one default instance, :data:`registry`, and module functions bound to
it (``dumps``, ``loads``, ``register``...), as kombu does; tests restore it
with ``registry.reset()``.

Built in:

===========  ====================================  ==========  ===========
name         content type                          encoding    decoded by
                                                               default
===========  ====================================  ==========  ===========
``json``     ``application/json``                  ``utf-8``   yes
``pickle``   ``application/x-python-serialize``    ``binary``  no
``yaml``     ``application/x-yaml``                ``utf-8``   no
``msgpack``  ``application/x-msgpack``             ``binary``  no
===========  ====================================  ==========  ===========

plus the ``raw`` pseudo-serializer (bytes as they are, ``str`` as UTF-8).
Decoding pickle, YAML or msgpack is off until
:func:`enable_insecure_serializers` or an ``accept`` list allows it: pickle
runs code from the message.  PyYAML and msgpack are imported only when
first used, and a missing one raises :class:`SerializerNotInstalled`
naming the extra to install.

Differences from kombu: payloads are always ``bytes``; unknown names given
to :func:`enable_insecure_serializers` and friends raise instead of being
ignored; a registry never changes under a :class:`Codec` already resolved.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kombu_lite import _json
from kombu_lite.exceptions import (
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    EncodeError,
    SerializerNotInstalled,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable
    from types import ModuleType

__all__ = [
    "PICKLE_PROTOCOL",
    "TRUSTED_CONTENT_TYPES",
    "Codec",
    "SerializerRegistry",
    "disable_insecure_serializers",
    "dumps",
    "enable_insecure_serializers",
    "loads",
    "prepare_accept_content",
    "register",
    "registry",
    "unregister",
]

#: Content types every consumer decodes, whatever its ``accept`` list: they
#: carry plain bytes or text, which run no code when decoded.  ``text/plain``
#: (a ``str`` body) is among them: kombu refuses it with ``accept=['json']``,
#: so a ``str`` published by a producer could not be read by its consumer.
TRUSTED_CONTENT_TYPES = frozenset(
    {"application/data", "application/text", "text/plain"}
)

#: Content encodings meaning "bytes, not text": never decoded to ``str``.
_BINARY_ENCODINGS = frozenset({"binary", "ascii-8bit"})

#: kombu writes pickle protocol 4; we do too so older kombu consumers read it.
PICKLE_PROTOCOL = 4

_DEFAULT_SERIALIZER = "json"
_INSECURE = ("pickle", "yaml", "msgpack")


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
class _Serializer:
    name: str
    content_type: str
    content_encoding: str
    encoder: Callable[[Any], bytes | str] | None
    decoder: Callable[[bytes], Any] | None
    #: Imports the library the codec needs; raises SerializerNotInstalled.
    requires: Callable[[], object] | None = None


class SerializerRegistry:
    """Serializers by name and content type, with the set disabled for decoding.

    A new registry holds the built-in serializers, with ``json`` the default
    and pickle, YAML and msgpack disabled for decoding.  Mutating methods
    are meant for start-up; they are not synchronised with concurrent
    publishing (a resolved :class:`Codec` is unaffected).
    """

    def __init__(self) -> None:
        self._by_name: dict[str, _Serializer] = {}
        self._by_type: dict[str, _Serializer] = {}
        self._disabled: set[str] = set()
        self._codecs: dict[str | None, Codec] = {}
        self.reset()

    def reset(self) -> None:
        """Restore the built-in serializers and default settings (for tests)."""
        self._by_name.clear()
        self._by_type.clear()
        self._disabled.clear()
        self._codecs.clear()
        for entry in _builtins():
            self._add(entry)
        self._disabled.update(self._by_name[name].content_type for name in _INSECURE)

    # -- registration ----------------------------------------------------------

    def register(
        self,
        name: str,
        encoder: Callable[[Any], bytes | str] | None,
        decoder: Callable[[bytes], Any] | None,
        content_type: str,
        content_encoding: str = "utf-8",
    ) -> None:
        """Register (or replace) a serializer.

        Args:
            name: The name producers pass as ``serializer=``.
            encoder: ``encoder(body) -> bytes`` (a ``str`` result is encoded
                with ``content_encoding``); ``None`` registers decode-only.
            decoder: ``decoder(payload_bytes) -> body``; ``None`` registers
                encode-only.
            content_type: The MIME type written on messages.
            content_encoding: The charset, or ``'binary'``.

        Raises:
            ConfigurationError: a bad argument, ``'raw'`` as the name, both
                functions ``None``, or a content type owned by another name.
        """
        if not name or "/" in name or name == "raw" or "/" not in content_type:
            raise ConfigurationError(
                f"register() needs a name (a word other than 'raw') and a MIME "
                f"content type, not {name!r} and {content_type!r}"
            )
        if encoder is None and decoder is None:
            raise ConfigurationError(
                f"serializer {name!r} needs an encoder, a decoder or both"
            )
        owner = self._by_type.get(content_type)
        if owner is not None and owner.name != name:
            raise ConfigurationError(
                f"content type {content_type!r} belongs to serializer "
                f"{owner.name!r}; unregister it first"
            )
        if name in self._by_name:
            self.unregister(name)
        self._add(_Serializer(name, content_type, content_encoding, encoder, decoder))

    def unregister(self, name: str) -> None:
        """Remove a serializer by name.

        Raises:
            SerializerNotInstalled: no serializer has that name.
        """
        entry = self._by_name.pop(name, None)
        if entry is None:
            raise SerializerNotInstalled(
                f"no serializer named {name!r} to unregister; "
                f"installed: {self._installed()}"
            )
        del self._by_type[entry.content_type]
        self._disabled.discard(entry.content_type)
        self._codecs.clear()

    def _add(self, entry: _Serializer) -> None:
        self._by_name[entry.name] = entry
        self._by_type[entry.content_type] = entry
        self._codecs.clear()

    # -- enabling and disabling decoders ---------------------------------------

    def enable(self, name_or_content_type: str) -> None:
        """Decode this serializer's content; unknown -> SerializerNotInstalled."""
        self._disabled.discard(self._content_type_of(name_or_content_type))

    def disable(self, name_or_content_type: str) -> None:
        """Refuse this content unless accepted; unknown -> SerializerNotInstalled."""
        self._disabled.add(self._content_type_of(name_or_content_type))

    def enable_insecure_serializers(
        self, choices: Iterable[str] = ("pickle", "yaml", "msgpack")
    ) -> None:
        """Enable decoding of the given serializers (all or none are enabled).

        Raises:
            SerializerNotInstalled: a name or content type is unknown (kombu
                ignored those silently); nothing was changed.
        """
        self._disabled.difference_update(
            [self._content_type_of(choice) for choice in choices]
        )

    def disable_insecure_serializers(
        self, allowed: Iterable[str] | None = ("json",)
    ) -> None:
        """Disable decoding of every serializer except ``allowed``.

        Raises:
            SerializerNotInstalled: a name or content type in ``allowed`` is
                unknown; nothing was changed.
        """
        keep = {self._content_type_of(name) for name in allowed or ()}
        self._disabled = {
            content_type
            for content_type, entry in self._by_type.items()
            if entry.decoder is not None and content_type not in keep
        }

    def _content_type_of(self, name_or_content_type: str) -> str:
        entry = self._by_name.get(name_or_content_type) or self._by_type.get(
            name_or_content_type
        )
        if entry is None:
            raise SerializerNotInstalled(
                f"no serializer named {name_or_content_type!r}; "
                f"installed: {self._installed()}"
            )
        return entry.content_type

    def _installed(self) -> str:
        return ", ".join(sorted(self._by_name)) or "none"

    # -- encoding ---------------------------------------------------------------

    def encoder_for(self, name: str | None = None) -> Codec:
        """Resolve a serializer name once, before any I/O.

        Args:
            name: A serializer name, ``'raw'``, or ``None`` for the automatic
                choice (``bytes`` -> ``application/data``, ``str`` ->
                ``text/plain``, anything else -> the default serializer).

        Raises:
            SerializerNotInstalled: no such serializer, it is decode-only, or
                its library is not installed.
        """
        try:
            return self._codecs[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name
            codec = self._resolve(name)
            self._codecs[name] = codec
            return codec

    def _resolve(self, name: object) -> Codec:
        if name is None:
            return _auto_codec(self._resolve(_DEFAULT_SERIALIZER))
        if name == "raw":
            return Codec(
                name="raw",
                content_type="application/data",
                content_encoding=None,
                encode=_raw_encode,
                _labels=_raw_labels,
                dump=_raw_dump,
            )
        entry = self._by_name.get(name) if isinstance(name, str) else None
        if entry is None or entry.encoder is None:
            what = "no serializer" if entry is None else "only a decoder"
            raise SerializerNotInstalled(
                f"{what} installed for {name!r}; installed: {self._installed()}"
            )
        if entry.requires is not None:
            entry.requires()
        return _fixed_codec(entry, entry.encoder)

    def dumps(self, data: Any, serializer: str | None = None) -> tuple[str, str, bytes]:
        """Serialize a body: ``(content_type, content_encoding, payload)``.

        Raises:
            SerializerNotInstalled: unknown serializer.
            EncodeError: the serializer could not encode ``data``.
        """
        return self.encoder_for(serializer).dumps(data)

    # -- decoding ---------------------------------------------------------------

    def prepare_accept_content(
        self, names: Iterable[str] | None
    ) -> frozenset[str] | None:
        """Turn serializer names or content types into a set of content types.

        ``None`` stays ``None`` (no accept list).  Content types pass through
        as given; ``'raw'`` means ``application/data``.

        Raises:
            SerializerNotInstalled: a name is not registered.
            ConfigurationError: ``names`` is a single string, not a list.
        """
        if names is None:
            return None
        if isinstance(names, str):
            raise ConfigurationError(
                f"accept must be a list of names or content types, not the "
                f"string {names!r}; write [{names!r}]"
            )
        prepared = set()
        for name in names:
            if "/" in name:
                prepared.add(name)
            elif name == "raw":
                prepared.add("application/data")
            else:
                prepared.add(self._content_type_of(name))
        return frozenset(prepared)

    def loads(
        self,
        data: bytes,
        content_type: str | None,
        content_encoding: str | None,
        accept: Collection[str] | None = None,
        force: bool = False,
    ) -> Any:
        """Decode a payload according to its content type.

        ``content_type=None`` means ``application/data``.  ``accept`` holds
        content types (see :meth:`prepare_accept_content`); the
        :data:`TRUSTED_CONTENT_TYPES` always pass.  With ``accept=None``
        everything not disabled passes, and ``force`` passes disabled types
        too.  Content with no decoder comes back as ``str`` when it has a
        text encoding (or is ``text/*`` with none) and as ``bytes``
        otherwise; an empty payload comes back as it is.

        Raises:
            ContentDisallowed: the content type is refused.
            DecodeError: the payload is corrupt.
            SerializerNotInstalled: the serializer's library is missing.
        """
        content_type = content_type or "application/data"
        if accept is not None:
            if content_type not in accept and content_type not in TRUSTED_CONTENT_TYPES:
                raise self._refused(content_type, accept)
        elif content_type in self._disabled and not force:
            raise self._refused(content_type, None)
        if not data:
            return data
        entry = self._by_type.get(content_type)
        if entry is not None and entry.decoder is not None:
            try:
                return entry.decoder(data)
            except SerializerNotInstalled:
                raise
            except Exception as exc:
                raise DecodeError(
                    f"serializer {entry.name!r} could not decode a "
                    f"{len(data)}-byte {content_type} payload: {exc}"
                ) from exc
        if content_encoding:
            encoding = content_encoding.lower()
            if encoding in _BINARY_ENCODINGS:
                return data
        elif content_type.startswith("text/") or content_type == "application/text":
            encoding = "utf-8"
        else:
            return data
        try:
            return str(data, encoding)
        except (LookupError, ValueError) as exc:  # unknown codec, bad bytes
            raise DecodeError(
                f"could not decode a {len(data)}-byte {content_type} payload "
                f"as {encoding}: {exc}"
            ) from exc

    def _refused(
        self, content_type: str, accept: Collection[str] | None
    ) -> ContentDisallowed:
        entry = self._by_type.get(content_type)
        label = content_type if entry is None else f"{entry.name} ({content_type})"
        if accept is None:
            name = content_type if entry is None else entry.name
            return ContentDisallowed(
                f"Refusing to deserialize disabled content of type {label}: "
                f"enable it with enable_insecure_serializers([{name!r}]) or "
                f"list it in the consumer's accept"
            )
        names = [item for item in accept if "/" not in item]
        hint = f"; {names!r}: names, use prepare_accept_content()" if names else ""
        return ContentDisallowed(
            f"Refusing to deserialize untrusted content of type {label}: the "
            f"consumer accepts {', '.join(sorted(accept)) or 'nothing'}{hint}"
        )


# -- codec construction -----------------------------------------------------------


def _encode_text(body: str) -> bytes:
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"str body is not valid UTF-8 text: {exc}") from exc


def _raw_encode(body: Any) -> bytes:
    if isinstance(body, str):
        return _encode_text(body)
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise EncodeError(
        f"serializer 'raw' sends bytes or str as they are, not a "
        f"{type(body).__name__}; pick a serializer such as 'json'"
    )


def _raw_labels(body: Any) -> tuple[str, str]:
    return "application/data", "utf-8" if isinstance(body, str) else "binary"


def _fixed_codec(entry: _Serializer, encoder: Callable[[Any], bytes | str]) -> Codec:
    name = entry.name
    labels = (entry.content_type, entry.content_encoding)
    text_encoding = (
        "utf-8"
        if entry.content_encoding.lower() in _BINARY_ENCODINGS
        else entry.content_encoding
    )

    def encode(body: Any) -> bytes:
        try:
            payload = encoder(body)
        except SerializerNotInstalled:
            raise
        except Exception as exc:
            raise EncodeError(
                f"serializer {name!r} could not encode a body of type "
                f"{type(body).__name__}: {exc}"
            ) from exc
        if type(payload) is bytes:
            return payload
        if isinstance(payload, str):
            return payload.encode(text_encoding)
        if isinstance(payload, bytes | bytearray | memoryview):
            return bytes(payload)
        raise EncodeError(
            f"serializer {name!r} returned a {type(payload).__name__}, not bytes or str"
        )

    content_type, content_encoding = labels

    def dump(body: Any) -> tuple[bytes, str, str]:
        return encode(body), content_type, content_encoding

    return Codec(
        name=name,
        content_type=entry.content_type,
        content_encoding=entry.content_encoding,
        encode=encode,
        _labels=lambda body: labels,
        dump=dump,
    )


def _raw_dump(body: Any) -> tuple[bytes, str, str]:
    return _raw_encode(body), *_raw_labels(body)


def _auto_codec(default: Codec) -> Codec:
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


def _builtins() -> list[_Serializer]:
    pickle_type, yaml_type = "application/x-python-serialize", "application/x-yaml"
    return [
        _Serializer("json", "application/json", "utf-8", _json.dumps, _json.loads),
        _Serializer("pickle", pickle_type, "binary", _pickle_dumps, _pickle_loads),
        _Serializer(
            "yaml", yaml_type, "utf-8", _yaml_dumps, _yaml_loads,
            requires=lambda: _optional("yaml", "yaml", "PyYAML"),
        ),
        _Serializer(
            "msgpack", "application/x-msgpack", "binary", _msgpack_dumps,
            _msgpack_loads, requires=lambda: _optional("msgpack", "msgpack", "msgpack"),
        ),
    ]  # fmt: skip


#: The default registry, used by producers and consumers.
registry = SerializerRegistry()
register = registry.register
unregister = registry.unregister
dumps = registry.dumps
loads = registry.loads
prepare_accept_content = registry.prepare_accept_content
enable_insecure_serializers = registry.enable_insecure_serializers
disable_insecure_serializers = registry.disable_insecure_serializers
