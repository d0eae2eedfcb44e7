"""The :class:`SerializerRegistry`: serializers by name and content type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kombu_lite.exceptions import (
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    SerializerNotInstalled,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

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

    def __init__(self) -> None:
        self._by_name: dict[str, Entry] = {}
        self._by_type: dict[str, Entry] = {}
        self._disabled: set[str] = set()
        self._codecs: dict[str | None, Codec] = {}
        self.reset()

    def reset(self) -> None:
        """Restore the built-in serializers and default settings (for tests)."""
        self._by_name.clear()
        self._by_type.clear()
        self._disabled.clear()
        self._codecs.clear()
        for entry in builtin_entries():
            self._add(entry)
        self._disabled.update(self._by_name[name].content_type for name in INSECURE)

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
        self._add(Entry(name, content_type, content_encoding, encoder, decoder))

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

    def _add(self, entry: Entry) -> None:
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
