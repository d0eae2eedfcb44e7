"""Compression: kombu's names and content types, and capped decompression."""

from __future__ import annotations

import bz2
import gzip
import lzma
import sys
import tracemalloc
import types
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kombu import compression as kombu_compression

from kombu_lite import compression
from kombu_lite.compression import DEFAULT_MAX_DECOMPRESSED_SIZE, CompressionRegistry
from kombu_lite.exceptions import (
    CompressionNotInstalled,
    ConfigurationError,
    DecodeError,
    DecompressionLimitExceeded,
    EncodeError,
)

MiB = 1024 * 1024
BODY = b"The quick brown fox jumps over the lazy dog. " * 50

BUILTINS = [
    ("zlib", "application/x-gzip"),
    ("bzip2", "application/x-bz2"),
    ("lzma", "application/x-lzma"),
    ("zstd", "application/zstd"),
    ("brotli", "application/x-brotli"),
]
STDLIB = BUILTINS[:3]


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


needs_zstd = pytest.mark.skipif(
    not (_installed("backports.zstd") or sys.version_info >= (3, 14)),
    reason="zstd needs Python 3.14 or backports.zstd",
)
needs_brotli = pytest.mark.skipif(not _installed("brotli"), reason="needs brotli")
ALL_METHODS = [
    pytest.param(*STDLIB[0], id="zlib"),
    pytest.param(*STDLIB[1], id="bzip2"),
    pytest.param(*STDLIB[2], id="lzma"),
    pytest.param(*BUILTINS[3], id="zstd", marks=needs_zstd),
    pytest.param(*BUILTINS[4], id="brotli", marks=needs_brotli),
]


@pytest.fixture
def registry() -> CompressionRegistry:
    return CompressionRegistry()


@pytest.fixture
def default_registry() -> Iterator[CompressionRegistry]:
    yield compression.registry
    compression.registry.reset()


def _zeros_compressed(method: str, size: int) -> bytes:
    """Compress ``size`` zero bytes without holding them all in memory."""
    chunk = bytes(MiB)
    compressor = {
        "zlib": lambda: zlib.compressobj(9),
        "bzip2": lambda: bz2.BZ2Compressor(9),
        "lzma": lambda: lzma.LZMACompressor(),
    }[method]()
    parts = [compressor.compress(chunk) for _ in range(size // MiB)]
    parts.append(compressor.flush())
    return b"".join(parts)


# -- names, aliases, content types ---------------------------------------------------


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_round_trip_by_name(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    compressed, header = registry.compress(BODY, name)

    assert header == content_type
    assert len(compressed) < len(BODY)
    assert registry.decompress(compressed, header) == BODY


@pytest.mark.parametrize(
    ("alias", "content_type"),
    [
        ("gzip", "application/x-gzip"),
        ("bz2", "application/x-bz2"),
        ("bzip", "application/x-bz2"),
        ("xz", "application/x-lzma"),
        ("application/x-lzma", "application/x-lzma"),
    ],
)
def test_aliases_and_content_types_resolve(
    registry: CompressionRegistry, alias: str, content_type: str
) -> None:
    assert registry.get_encoder(alias)[1] == content_type


@needs_zstd
def test_zstandard_alias_is_zstd(registry: CompressionRegistry) -> None:
    assert registry.get_encoder("zstandard")[1] == "application/zstd"


def test_gzip_alias_writes_a_zlib_stream_like_kombu(
    registry: CompressionRegistry,
) -> None:
    compressed, _ = registry.compress(BODY, "gzip")

    assert zlib.decompress(compressed) == BODY


def test_zlib_decoder_also_reads_a_real_gzip_file(
    registry: CompressionRegistry,
) -> None:
    assert registry.decompress(gzip.compress(BODY), "application/x-gzip") == BODY


def test_zlib_decoder_ignores_trailing_bytes_like_zlib(
    registry: CompressionRegistry,
) -> None:
    compressed = zlib.compress(BODY) + b"trailer"

    assert registry.decompress(compressed, "application/x-gzip") == BODY


def test_encoders_lists_usable_content_types(registry: CompressionRegistry) -> None:
    assert registry.encoders()[:3] == [content_type for _, content_type in STDLIB]


def test_get_decoder_returns_a_capped_function(registry: CompressionRegistry) -> None:
    decoder = registry.get_decoder("zlib")

    assert decoder(zlib.compress(BODY), len(BODY)) == BODY


def test_unknown_method_raises_naming_it_and_the_available_ones(
    registry: CompressionRegistry,
) -> None:
    with pytest.raises(CompressionNotInstalled, match="'snappy'") as info:
        registry.compress(BODY, "snappy")

    assert "bzip2, lzma" in str(info.value)


def test_unknown_content_type_on_decompress_raises(
    registry: CompressionRegistry,
) -> None:
    with pytest.raises(CompressionNotInstalled, match="application/x-snappy"):
        registry.decompress(b"x", "application/x-snappy")


@pytest.mark.parametrize(
    ("blocked", "method", "hint"),
    [
        (("backports.zstd", "compression.zstd"), "zstd", "backports.zstd"),
        (("brotli", "brotlicffi"), "brotli", "brotli>=1.2"),
        (("bz2",), "bzip2", "bz2 module"),
    ],
)
def test_missing_library_raises_compression_not_installed(
    monkeypatch: pytest.MonkeyPatch, blocked: tuple[str, ...], method: str, hint: str
) -> None:
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    registry = CompressionRegistry()

    with pytest.raises(CompressionNotInstalled, match=hint):
        registry.get_encoder(method)
    assert method not in str(registry.encoders())


@pytest.mark.parametrize(
    ("blocked", "method", "extra"),
    [
        (("backports.zstd", "compression.zstd"), "zstd", "zstd"),
        (("brotli", "brotlicffi"), "brotli", "brotli"),
        (("bz2",), "bzip2", None),  # the stdlib's: no extra installs it
    ],
)
def test_missing_library_error_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
    blocked: tuple[str, ...],
    method: str,
    extra: str | None,
) -> None:
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)

    with pytest.raises(CompressionNotInstalled) as info:
        CompressionRegistry().get_decoder(method)

    assert info.value.extra == extra
    assert ("pip install 'kombu-lite[" in str(info.value)) is (extra is not None)


def test_missing_library_is_left_out_of_the_available_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    registry = CompressionRegistry()

    with pytest.raises(CompressionNotInstalled) as info:
        registry.get_encoder("nope")

    assert "brotli" not in str(info.value)


def test_compressing_a_str_raises_encode_error(registry: CompressionRegistry) -> None:
    with pytest.raises(EncodeError, match="'zlib' failed on a str body"):
        registry.compress("text", "zlib")  # type: ignore[arg-type]


# -- register -------------------------------------------------------------------------


def test_registered_method_round_trips(registry: CompressionRegistry) -> None:
    registry.register(
        "reverse",
        lambda body: body[::-1],
        lambda body, max_size: body[::-1],
        "application/x-reverse",
        aliases=("rev",),
    )

    compressed, header = registry.compress(b"abc", "rev")

    assert (compressed, header) == (b"cba", "application/x-reverse")
    assert registry.decompress(compressed, header) == b"abc"


def test_registered_decoder_output_is_capped_too(registry: CompressionRegistry) -> None:
    registry.register(
        "dup", bytes, lambda body, max_size: body * 1000, "application/x-dup"
    )

    with pytest.raises(DecompressionLimitExceeded, match="application/x-dup"):
        registry.decompress(b"ab", "application/x-dup", max_size=100)


def test_register_again_replaces_the_method_and_its_aliases(
    registry: CompressionRegistry,
) -> None:
    registry.register("one", bytes, lambda b, m: b, "application/x-one", aliases=("a",))
    registry.register("two", bytes, lambda b, m: b, "application/x-one")

    assert registry.get_encoder("two")[1] == "application/x-one"
    with pytest.raises(CompressionNotInstalled):
        registry.get_encoder("a")


def test_register_refuses_an_alias_of_another_method(
    registry: CompressionRegistry,
) -> None:
    with pytest.raises(ConfigurationError, match="'gzip' already means"):
        registry.register("mine", bytes, lambda b, m: b, "application/x-mine", ["gzip"])


def test_reset_forgets_registered_methods(
    default_registry: CompressionRegistry,
) -> None:
    compression.register("mine", bytes, lambda b, m: b, "application/x-mine")

    default_registry.reset()

    with pytest.raises(CompressionNotInstalled):
        compression.get_encoder("mine")


# -- capped decompression ---------------------------------------------------------


def test_default_limit_is_64_mib() -> None:
    assert 64 * MiB == DEFAULT_MAX_DECOMPRESSED_SIZE


def test_zlib_bomb_is_refused_without_inflating_it() -> None:
    bomb = _zeros_compressed("zlib", 100 * MiB)

    tracemalloc.start()
    try:
        with pytest.raises(DecompressionLimitExceeded, match="67108864-byte limit"):
            compression.decompress(bomb, "application/x-gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # About the 64 MiB limit (plus one step), never the 100 MiB body.
    assert peak < 80 * MiB


@pytest.mark.parametrize(("name", "content_type"), STDLIB)
def test_small_limit_stops_a_bomb_early(name: str, content_type: str) -> None:
    bomb = _zeros_compressed(name, 64 * MiB)

    tracemalloc.start()
    try:
        with pytest.raises(DecompressionLimitExceeded):
            compression.decompress(bomb, content_type, max_size=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The limit, one output step and the decompressor's own state (an 8 MiB
    # dictionary for lzma), far below the 64 MiB the bomb inflates to.
    assert peak < 16 * MiB


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_body_exactly_at_the_limit_is_accepted(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    compressed, _ = registry.compress(BODY, name)

    assert registry.decompress(compressed, content_type, max_size=len(BODY)) == BODY


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_body_one_byte_over_the_limit_is_refused(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    compressed, _ = registry.compress(BODY, name)

    with pytest.raises(DecompressionLimitExceeded):
        registry.decompress(compressed, content_type, max_size=len(BODY) - 1)


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_empty_body_round_trips_with_zero_limit(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    compressed, _ = registry.compress(b"", name)

    assert registry.decompress(compressed, content_type, max_size=0) == b""


def test_negative_limit_is_refused(registry: CompressionRegistry) -> None:
    with pytest.raises(ConfigurationError, match="max_size"):
        registry.decompress(zlib.compress(b"x"), "application/x-gzip", max_size=-1)


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_corrupt_body_raises_decode_error(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    with pytest.raises(DecodeError, match=content_type):
        registry.decompress(b"this is not compressed at all", content_type)


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_truncated_body_raises_decode_error(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    compressed, _ = registry.compress(BODY, name)

    with pytest.raises(DecodeError, match=content_type) as info:
        registry.decompress(compressed[: len(compressed) // 2], content_type)

    assert not isinstance(info.value, DecompressionLimitExceeded)


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS[1:4])
def test_concatenated_streams_decode_like_the_stdlib(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    first, _ = registry.compress(b"first ", name)
    second, _ = registry.compress(b"second", name)

    assert registry.decompress(first + second, content_type) == b"first second"


@pytest.mark.parametrize(("name", "content_type"), STDLIB[1:])
def test_garbage_after_a_complete_stream_is_ignored_like_the_stdlib(
    registry: CompressionRegistry, name: str, content_type: str
) -> None:
    compressed, _ = registry.compress(BODY, name)

    assert registry.decompress(compressed + b"garbage!" * 4, content_type) == BODY


def test_concatenated_streams_count_towards_one_limit(
    registry: CompressionRegistry,
) -> None:
    half = bz2.compress(bytes(600))

    with pytest.raises(DecompressionLimitExceeded):
        registry.decompress(half + half, "application/x-bz2", max_size=1000)


# -- kombu interop ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_kombu_decompresses_what_we_compress(name: str, content_type: str) -> None:
    if content_type not in kombu_compression.encoders():
        pytest.skip(f"kombu has no {name} support here")
    compressed, header = compression.compress(BODY, name)

    assert kombu_compression.decompress(compressed, header) == BODY


@pytest.mark.parametrize(("name", "content_type"), ALL_METHODS)
def test_we_decompress_what_kombu_compresses(name: str, content_type: str) -> None:
    if content_type not in kombu_compression.encoders():
        pytest.skip(f"kombu has no {name} support here")
    compressed, header = kombu_compression.compress(BODY, content_type)

    assert compression.decompress(compressed, header) == BODY


# -- properties -------------------------------------------------------------------


@given(st.binary(max_size=4096), st.sampled_from([name for name, _ in STDLIB]))
def test_any_body_round_trips(body: bytes, method: str) -> None:
    compressed, content_type = compression.compress(body, method)

    assert compression.decompress(compressed, content_type) == body


@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=4096))
def test_limit_is_exact_for_zlib(body: bytes, max_size: int) -> None:
    compressed, content_type = compression.compress(body, "zlib")

    if len(body) <= max_size:
        assert compression.decompress(compressed, content_type, max_size) == body
    else:
        with pytest.raises(DecompressionLimitExceeded):
            compression.decompress(compressed, content_type, max_size)


def test_library_error_raised_by_an_encoder_passes_through(
    registry: CompressionRegistry,
) -> None:
    def missing(body: bytes) -> bytes:
        raise CompressionNotInstalled("snappy is gone")

    registry.register("snappy", missing, lambda b, m: b, "application/x-snappy")

    with pytest.raises(CompressionNotInstalled, match="snappy is gone"):
        registry.compress(b"x", "snappy")


def test_decode_error_raised_by_a_decoder_passes_through(
    registry: CompressionRegistry,
) -> None:
    def refuse(body: bytes, max_size: int) -> bytes:
        raise DecodeError("bad frame 3")

    registry.register("framed", bytes, refuse, "application/x-framed")

    with pytest.raises(DecodeError, match=r"^bad frame 3$"):
        registry.decompress(b"x", "application/x-framed")


@needs_brotli
def test_brotli_body_larger_than_one_output_step_round_trips(
    registry: CompressionRegistry,
) -> None:
    body = bytes(range(256)) * (12 * 1024)  # 3 MiB, several output steps

    compressed, content_type = registry.compress(body, "brotli")

    assert registry.decompress(compressed, content_type) == body


@needs_brotli
def test_brotli_bomb_is_refused(registry: CompressionRegistry) -> None:
    import brotli

    bomb = brotli.compress(bytes(32 * MiB))

    with pytest.raises(DecompressionLimitExceeded):
        registry.decompress(bomb, "application/x-brotli", max_size=3 * MiB)


def test_brotli_without_output_limit_support_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_brotli = types.ModuleType("brotli")
    old_brotli.Decompressor = type("Decompressor", (), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "brotli", old_brotli)

    with pytest.raises(CompressionNotInstalled, match=r"brotli >= 1\.2"):
        CompressionRegistry().get_encoder("brotli")
