"""Body compression: compress on publish, decompress (capped) on receive.

A :class:`CompressionRegistry` maps method names and content types to
compress and decompress functions; the module holds the default instance,
:data:`registry`, and functions bound to it, as kombu does.  A producer
writes the method's content type in the ``compression`` header; the
consumer decompresses by that header.

=========  =========================  ===============================  ============
method     content type               aliases                          library
=========  =========================  ===============================  ============
zlib       ``application/x-gzip``     ``zlib``, ``gzip``               stdlib
bzip2      ``application/x-bz2``      ``bzip2``, ``bzip``, ``bz2``     stdlib
lzma       ``application/x-lzma``     ``lzma``, ``xz``                 stdlib
zstd       ``application/zstd``       ``zstd``, ``zstandard``          see below
brotli     ``application/x-brotli``   ``brotli``                       ``brotli``
=========  =========================  ===============================  ============

The names and content types are kombu's, so either side reads the other.
zstd uses :mod:`compression.zstd` on Python 3.14+ and the ``backports.zstd``
package before that (kombu's choice too; it can cap its output, which the
``zstandard`` package's reader cannot do while still detecting truncation).
brotli needs ``brotli`` >= 1.2 (or ``brotlicffi``) for the same reason.
Optional libraries are imported on first use.

Decompression never inflates past ``max_size`` bytes (default
:data:`DEFAULT_MAX_DECOMPRESSED_SIZE`): the built-in methods stream with an
output limit, so a compression bomb is refused with
:class:`DecompressionLimitExceeded` after at most about ``max_size`` bytes of
work, not after inflating it (kombu decompresses before any check).
"""

from __future__ import annotations

import importlib
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from kombu_lite.exceptions import (
    CompressionNotInstalled,
    ConfigurationError,
    DecodeError,
    DecompressionLimitExceeded,
    EncodeError,
    KombuError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "CompressionRegistry",
    "Compressor",
    "Decompressor",
    "compress",
    "decompress",
    "encoders",
    "get_decoder",
    "get_encoder",
    "register",
    "registry",
]

#: The largest body :func:`decompress` inflates to by default: 64 MiB.
DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024

#: ``compressor(body) -> compressed``.
Compressor: TypeAlias = Callable[[bytes], bytes]
#: ``decompressor(body, max_size) -> body``: returns the whole body when it is
#: at most ``max_size`` bytes, and otherwise should stop early and raise
#: :class:`DecompressionLimitExceeded` (output longer than ``max_size`` is
#: refused too, but only stopping early protects memory).
Decompressor: TypeAlias = Callable[[bytes, int], bytes]
_Pair: TypeAlias = tuple[Compressor, Decompressor]

# The zlib decoder accepts a zlib or a gzip header (32 + window bits): kombu's
# 'gzip' writes zlib streams, but a real gzip body decodes too.
_ZLIB_ANY_HEADER = zlib.MAX_WBITS | 32

# Output is produced in steps of at most this size and the steps are joined
# only on success, so refusing a bomb holds about max_size bytes, not twice
# that (one-shot decompression joins its internal blocks at the end).
_CHUNK = 1024 * 1024

# liblzma allocates the dictionary a stream asks for (up to 1.5 GiB); xz's
# presets need at most 65 MiB, so a stream wanting more is refused.
_LZMA_MEMLIMIT = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Method:
    name: str
    content_type: str
    aliases: tuple[str, ...]
    #: Returns (compressor, decompressor); raises CompressionNotInstalled.
    load: Callable[[], _Pair]


class CompressionRegistry:
    """Compression methods by name, alias and content type.

    A new registry holds the built-in methods; their libraries are imported
    when a method is first used.  Registering is meant for start-up and is
    not synchronised with concurrent use.
    """

    def __init__(self) -> None:
        self._methods: dict[str, _Method] = {}
        self._aliases: dict[str, str] = {}
        self._loaded: dict[str, _Pair] = {}
        self.reset()

    def reset(self) -> None:
        """Forget registered methods and restore the built-in ones (for tests)."""
        self._methods.clear()
        self._aliases.clear()
        self._loaded.clear()
        for method in _builtins():
            self._add(method)

    def register(
        self,
        name: str,
        encoder: Compressor,
        decoder: Decompressor,
        content_type: str,
        aliases: Iterable[str] = (),
    ) -> None:
        """Register (or replace) a compression method.

        Args:
            name: The method's name; also accepted wherever an alias is.
            encoder: ``encoder(body) -> compressed``.
            decoder: ``decoder(compressed, max_size) -> body``.  It should
                stop once its output passes ``max_size`` bytes and raise
                :class:`DecompressionLimitExceeded`; the registry refuses any
                longer output too, but only stopping early protects memory.
            content_type: The value written in the ``compression`` header.
            aliases: Other names for the method.

        Raises:
            ConfigurationError: a name or alias already means another method.
        """
        names = (name, *aliases)
        for alias in names:
            owner = self._aliases.get(alias)
            if owner is not None and owner != content_type:
                raise ConfigurationError(
                    f"compression name {alias!r} already means {owner!r}; "
                    "pick another name"
                )
        functions = (encoder, decoder)
        self._add(_Method(name, content_type, names, lambda: functions))

    def _add(self, method: _Method) -> None:
        old = self._methods.pop(method.content_type, None)
        if old is not None:
            for alias in old.aliases:
                del self._aliases[alias]
            self._loaded.pop(method.content_type, None)
        self._methods[method.content_type] = method
        self._aliases[method.content_type] = method.content_type
        for alias in method.aliases:
            self._aliases[alias] = method.content_type

    def _load(self, name_or_type: str) -> tuple[str, _Pair]:
        content_type = self._aliases.get(name_or_type)
        if content_type is None:
            raise CompressionNotInstalled(
                f"unknown compression method {name_or_type!r}; "
                f"available: {', '.join(self._available()) or 'none'}"
            )
        functions = self._loaded.get(content_type)
        if functions is None:
            functions = self._methods[content_type].load()
            self._loaded[content_type] = functions
        return content_type, functions

    def _usable(self, content_type: str) -> bool:
        try:
            self._load(content_type)
        except CompressionNotInstalled:
            return False
        return True

    def _available(self) -> list[str]:
        return sorted(
            m.name for m in self._methods.values() if self._usable(m.content_type)
        )

    def encoders(self) -> list[str]:
        """Return the content types of the methods usable here (as kombu)."""
        return [
            content_type for content_type in self._methods if self._usable(content_type)
        ]

    def get_encoder(self, name_or_type: str) -> tuple[Compressor, str]:
        """Return ``(compress_function, content_type)`` for a method.

        Producers call this up front to validate a ``compression=`` option.

        Raises:
            CompressionNotInstalled: unknown method or library not installed.
        """
        content_type, (encoder, _) = self._load(name_or_type)
        return encoder, content_type

    def get_decoder(self, name_or_type: str) -> Decompressor:
        """Return the raw ``decoder(body, max_size)`` function of a method.

        Prefer :meth:`decompress`, which also turns the library's errors into
        :class:`DecodeError` and explains a refused size.

        Raises:
            CompressionNotInstalled: unknown method or library not installed.
        """
        return self._load(name_or_type)[1][1]

    def compress(self, body: bytes, method: str) -> tuple[bytes, str]:
        """Compress a body: ``(compressed, content_type_for_the_header)``.

        Raises:
            CompressionNotInstalled: unknown method or library not installed.
            EncodeError: the compressor failed (for example on a ``str``).
        """
        content_type, (encoder, _) = self._load(method)
        try:
            return encoder(body), content_type
        except KombuError:
            raise
        except Exception as exc:
            raise EncodeError(
                f"compression {method!r} failed on a {type(body).__name__} body: {exc}"
            ) from exc

    def decompress(
        self,
        body: bytes,
        content_type: str,
        max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
    ) -> bytes:
        """Decompress a body, refusing to inflate it past ``max_size`` bytes.

        Raises:
            CompressionNotInstalled: unknown method or library not installed.
            DecompressionLimitExceeded: the body inflates past ``max_size``.
            DecodeError: the body is corrupt or truncated.
            ConfigurationError: ``max_size`` is negative.
        """
        if max_size < 0:
            raise ConfigurationError(f"max_size must be >= 0, not {max_size!r}")
        resolved, (_, decoder) = self._load(content_type)
        try:
            data = decoder(body, max_size)
        except DecompressionLimitExceeded:
            data = None  # reported below, with the details
        except KombuError:
            raise
        except Exception as exc:
            raise DecodeError(
                f"could not decompress a {len(body)}-byte {resolved} body: {exc}"
            ) from exc
        if data is None or len(data) > max_size:
            raise DecompressionLimitExceeded(
                f"a {len(body)}-byte {resolved} body inflates past the "
                f"{max_size}-byte limit and was refused; raise max_size if "
                "bodies this large are expected"
            )
        return data


# -- capped decompressors ---------------------------------------------------------


def _truncated() -> EOFError:
    return EOFError("the stream is truncated: it ends before its end marker")


def _zlib_decompress(body: bytes, max_size: int) -> bytes:
    decompressor = zlib.decompressobj(_ZLIB_ANY_HEADER)
    chunks: list[bytes] = []
    size = 0
    data = body
    while True:
        want = min(_CHUNK, max_size - size + 1)
        chunk = decompressor.decompress(data, want)
        chunks.append(chunk)
        size += len(chunk)
        # Trailing bytes after the stream are ignored, as zlib.decompress does.
        if size > max_size:
            raise DecompressionLimitExceeded
        if decompressor.eof:
            return b"".join(chunks)
        data = decompressor.unconsumed_tail
        if not data and len(chunk) < want:
            raise _truncated()


def _streams_decompress(
    make: Callable[[], Any], errors: tuple[type[Exception], ...]
) -> Decompressor:
    """Build a capped decoder for bz2/lzma/zstd-style decompressor objects.

    Like the stdlib's one-shot functions, it decodes concatenated streams and,
    once a stream is complete, ignores what follows if it is not a valid
    stream; a truncated stream is an error.
    """

    def decompress(body: bytes, max_size: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        data = body
        while data:
            decompressor = make()
            stream: list[bytes] = []
            try:
                while True:
                    chunk = decompressor.decompress(
                        data, min(_CHUNK, max_size - size + 1)
                    )
                    data = b""  # the decompressor keeps unread input itself
                    stream.append(chunk)
                    size += len(chunk)
                    if size > max_size:
                        raise DecompressionLimitExceeded
                    if decompressor.eof:
                        break
                    if decompressor.needs_input:
                        raise _truncated()
            except errors:
                if chunks:
                    break
                raise
            chunks.extend(stream)  # never empty: each stream adds a chunk
            data = decompressor.unused_data
        return b"".join(chunks)

    return decompress


def _brotli_decompressor(brotli: Any) -> Decompressor:
    def decompress(body: bytes, max_size: int) -> bytes:
        decompressor = brotli.Decompressor()
        limit = min(_CHUNK, max_size + 1)
        chunk: bytes = decompressor.process(body, output_buffer_limit=limit)
        chunks = [chunk]
        size = len(chunk)
        # Output past the limit is held back until asked for with empty
        # input; stop asking once past max_size.
        while size <= max_size and not decompressor.is_finished():
            limit = min(_CHUNK, max_size - size + 1)
            chunk = decompressor.process(b"", output_buffer_limit=limit)
            if not chunk and decompressor.can_accept_more_data():
                raise _truncated()  # it wants more input, and there is none
            chunks.append(chunk)
            size += len(chunk)
        if size > max_size:
            raise DecompressionLimitExceeded
        return b"".join(chunks)

    return decompress


# -- built-in methods -------------------------------------------------------------


def _import(
    modules: tuple[str, ...], method: str, hint: str, extra: str | None = None
) -> Any:
    for module in modules:
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    install = f", which is not installed here: pip install 'kombu-lite[{extra}]'"
    raise CompressionNotInstalled(
        f"compression method {method!r} needs {hint}{install if extra else ''}",
        extra=extra,
    )


def _load_zlib() -> _Pair:
    return zlib.compress, _zlib_decompress


def _load_bz2() -> _Pair:
    bz2 = _import(("bz2",), "bzip2", "a Python built with the bz2 module")
    return bz2.compress, _streams_decompress(bz2.BZ2Decompressor, (OSError,))


def _load_lzma() -> _Pair:
    lzma = _import(("lzma",), "lzma", "a Python built with the lzma module")

    def make() -> Any:
        return lzma.LZMADecompressor(memlimit=_LZMA_MEMLIMIT)

    return lzma.compress, _streams_decompress(make, (lzma.LZMAError,))


def _load_zstd() -> _Pair:
    modules = ("compression.zstd",) if sys.version_info >= (3, 14) else ()
    zstd = _import(
        (*modules, "backports.zstd"), "zstd", "Python 3.14 or backports.zstd", "zstd"
    )
    return zstd.compress, _streams_decompress(zstd.ZstdDecompressor, (zstd.ZstdError,))


def _load_brotli() -> _Pair:
    brotli = _import(("brotli", "brotlicffi"), "brotli", "brotli>=1.2", "brotli")
    # Older releases cannot cap their output, which is the only defence
    # against a compression bomb here.
    if not hasattr(brotli.Decompressor(), "can_accept_more_data"):
        raise CompressionNotInstalled(
            "compression method 'brotli' needs brotli >= 1.2 to cap its "
            "output: pip install -U 'kombu-lite[brotli]'",
            extra="brotli",
        )
    return brotli.compress, _brotli_decompressor(brotli)


def _builtins() -> list[_Method]:
    return [
        _Method("zlib", "application/x-gzip", ("zlib", "gzip"), _load_zlib),
        _Method("bzip2", "application/x-bz2", ("bzip2", "bzip", "bz2"), _load_bz2),
        _Method("lzma", "application/x-lzma", ("lzma", "xz"), _load_lzma),
        _Method("zstd", "application/zstd", ("zstd", "zstandard"), _load_zstd),
        _Method("brotli", "application/x-brotli", ("brotli",), _load_brotli),
    ]


#: The default registry, used by producers and received messages.
registry = CompressionRegistry()
register = registry.register
encoders = registry.encoders
get_encoder = registry.get_encoder
get_decoder = registry.get_decoder
compress = registry.compress
decompress = registry.decompress
