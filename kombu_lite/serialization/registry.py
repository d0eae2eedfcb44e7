"""The :class:`SerializerRegistry`: serializers by name and content type."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kombu_lite.exceptions import (
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    SerializerNotInstalled,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

from kombu_lite.serialization.codecs import (
    BINARY_ENCODINGS,
    DEFAULT_SERIALIZER,
    INSECURE,
    TRUSTED_CONTENT_TYPES,
    Codec,
    Entry,
    auto_codec,
    builtin_entries,
    fixed_codec,
    raw_dump,
    raw_encode,
    raw_labels,
)

__all__ = ["SerializerRegistry"]


class SerializerRegistry:
    """Serializers by name and content type, with the set disabled for decoding.

    A new registry holds the built-in serializers, with ``json`` the default
    and pickle, YAML and msgpack disabled for decoding.  Mutating methods
    are meant for start-up; they are not synchronised with concurrent
    publishing (a resolved :class:`Codec` is unaffected).
    """

    #: Counts the changes to the registered serializers (a memo of a
    #: decoder is good while it is unchanged).
    generation = 0

    def __init__(self) -> None:
        self._by_name: dict[str, Entry] = {}
        self._by_type: dict[str, Entry] = {}
        self._name_to_type: dict[str, str] = {}
        self._type_to_name: dict[str, str] = {}
        self._disabled: set[str] = set()
        self._codecs: dict[str | None, Codec] = {}
        self.reset()

    @property
    def name_to_type(self) -> Mapping[str, str]:
        """Serializer name -> content type, for every registered serializer.

        kombu's attribute: a live, read-only view that :meth:`register`
        and :meth:`unregister` keep in step (kombu's is a plain dict).
        """
        return MappingProxyType(self._name_to_type)

    @property
    def type_to_name(self) -> Mapping[str, str]:
        """Content type -> serializer name; the reverse of :attr:`name_to_type`."""
        return MappingProxyType(self._type_to_name)

    def reset(self) -> None:
        """Restore the built-in serializers and default settings (for tests)."""
        self._by_name.clear()
        self._by_type.clear()
        self._name_to_type.clear()
        self._type_to_name.clear()
        self._disabled.clear()
        self._codecs.clear()
        for entry in builtin_entries():
            self._add(entry)
        self._disabled.update(self._by_name[name].content_type for name in INSECURE)

    # -- registration ----------------------------------------------------------

    def register(
        self,
        name: str | None,
        encoder: Callable[[Any], bytes | str] | None,
        decoder: Callable[[bytes], Any] | None,
        content_type: str,
        content_encoding: str = "utf-8",
    ) -> None:
        """Register (or replace) a serializer.

        Replacing a serializer keeps its content type enabled or disabled
        for decoding as it was.  ``register(None, None, None, None)``
        registers nothing and returns, as in kombu (whose test suite calls
        it).

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
        if name is None and encoder is None and decoder is None and not content_type:
            return
        if (
            not isinstance(name, str)
            or not isinstance(content_type, str)
            or not name
            or "/" in name
            or name == "raw"
            or "/" not in content_type
        ):
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
        disabled = content_type in self._disabled
        if name in self._by_name:
            self.unregister(name)
        self._add(Entry(name, content_type, content_encoding, encoder, decoder))
        if disabled:
            self._disabled.add(content_type)

    def register_builtin(self, name: str) -> None:
        """Register the built-in serializer ``name`` again (kombu's ``register_*``).

        A serializer that was not registered comes back disabled for
        decoding if it is insecure (pickle, YAML, msgpack), as at start-up;
        one that was registered keeps its enabled or disabled state.

        Raises:
            SerializerNotInstalled: ``name`` is not a built-in serializer.
        """
        entries = {entry.name: entry for entry in builtin_entries()}
        entry = entries.get(name)
        if entry is None:
            raise SerializerNotInstalled(
                f"no built-in serializer named {name!r}; built in: "
                f"{', '.join(sorted(entries))}"
            )
        new = self._by_type.get(entry.content_type) is None
        self.register(
            entry.name,
            entry.encoder,
            entry.decoder,
            entry.content_type,
            entry.content_encoding,
        )
        # register() does not know the entry's lazy import: keep it.
        self._add(entry)
        if new and name in INSECURE:
            self._disabled.add(entry.content_type)

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
        del self._name_to_type[name]
        del self._type_to_name[entry.content_type]
        self._disabled.discard(entry.content_type)
        self._codecs.clear()
        self.generation += 1

    def _add(self, entry: Entry) -> None:
        self._by_name[entry.name] = entry
        self._by_type[entry.content_type] = entry
        self._name_to_type[entry.name] = entry.content_type
        self._type_to_name[entry.content_type] = entry.name
        self._codecs.clear()
        self.generation += 1

    def decoder(self, content_type: str) -> Callable[[bytes], Any] | None:
        """The function :meth:`loads` decodes ``content_type`` with, if any."""
        entry = self._by_type.get(content_type)
        return None if entry is None else entry.decoder

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
            return auto_codec(self._resolve(DEFAULT_SERIALIZER))
        if name == "raw":
            return Codec(
                name="raw",
                content_type="application/data",
                content_encoding=None,
                encode=raw_encode,
                _labels=raw_labels,
                dump=raw_dump,
            )
        entry = self._by_name.get(name) if isinstance(name, str) else None
        if entry is None or entry.encoder is None:
            what = "no serializer" if entry is None else "only a decoder"
            raise SerializerNotInstalled(
                f"{what} installed for {name!r}; installed: {self._installed()}"
            )
        if entry.requires is not None:
            entry.requires()
        return fixed_codec(entry, entry.encoder)

    def content_type_of(self, name: str | None) -> str:
        """The content type serializer ``name`` writes on a body of objects.

        ``None`` is the automatic choice (the default serializer's type for
        anything but bytes and str); ``'raw'`` is ``application/data``.

        Raises:
            SerializerNotInstalled: as :meth:`encoder_for`.
        """
        codec = self.encoder_for(name)
        return codec.content_type or codec.content_type_for(object())[0]

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
        data: bytes | bytearray | memoryview | str,
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

        ``data`` may be ``str`` (kombu's transports hand some payloads
        over as text): a decoder gets it as it is, and without a decoder it
        comes back unchanged.

        Raises:
            ContentDisallowed: the content type is refused.
            DecodeError: the payload is corrupt, or any argument has the
                wrong type (never a ``TypeError``).
            SerializerNotInstalled: the serializer's library is missing.
        """
        content_type, content_encoding = _labels(content_type, content_encoding)
        if accept is not None:
            if content_type not in TRUSTED_CONTENT_TYPES and not _holds(
                accept, content_type
            ):
                raise self._refused(content_type, accept)
        elif content_type in self._disabled and not force:
            raise self._refused(content_type, None)
        if not data:
            return data
        entry = self._by_type.get(content_type)
        if entry is not None and entry.decoder is not None:
            try:
                return entry.decoder(data)  # type: ignore[arg-type]
            except SerializerNotInstalled:
                raise
            except Exception as exc:
                raise DecodeError(
                    f"serializer {entry.name!r} could not decode a "
                    f"{content_type} payload ({_size(data)}): {exc}"
                ) from exc
        if isinstance(data, str):
            return data  # already text, as kombu returns it
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(
                f"a {content_type} payload must be bytes or str, not "
                f"{type(data).__name__}"
            )
        if content_encoding:
            encoding = content_encoding.lower()
            if encoding in BINARY_ENCODINGS:
                return data
        elif content_type.startswith("text/") or content_type == "application/text":
            encoding = "utf-8"
        else:
            return data
        try:
            return str(data, encoding)
        except (LookupError, ValueError) as exc:  # unknown codec, bad bytes
            raise DecodeError(
                f"could not decode a {content_type} payload ({_size(data)}) "
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


def _labels(content_type: object, content_encoding: object) -> tuple[str, str | None]:
    """``loads``' content type and encoding as text (bytes are decoded, as kombu).

    Raises:
        DecodeError: either is neither text nor ASCII bytes.
    """
    if type(content_type) is str and (
        content_encoding is None or type(content_encoding) is str
    ):
        # The common case, once per message: both are text already.
        return content_type or "application/data", content_encoding or None
    labels: list[str | None] = []
    given = (("content_type", content_type), ("content_encoding", content_encoding))
    for what, value in given:
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError as exc:
                raise DecodeError(f"{what} must be ASCII text, not {value!r}") from exc
        if value is not None and not isinstance(value, str):
            raise DecodeError(
                f"{what} must be a str or None, not {type(value).__name__}"
            )
        labels.append(value or None)
    return labels[0] or "application/data", labels[1]


def _holds(accept: Collection[str], content_type: str) -> bool:
    """``content_type in accept``; an accept list of the wrong type raises.

    Raises:
        DecodeError: ``accept`` is not a collection of content types.
    """
    try:
        return content_type in accept
    except TypeError as exc:
        raise DecodeError(
            f"accept must be a collection of content types, not {type(accept).__name__}"
        ) from exc


def _size(data: object) -> str:
    if isinstance(data, bytes | bytearray | memoryview | str):
        return f"{len(data)} {'chars' if isinstance(data, str) else 'bytes'}"
    return f"a {type(data).__name__}"
