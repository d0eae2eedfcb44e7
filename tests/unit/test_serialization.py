"""The serializer registry: dumps/loads rules, accept lists, insecure serializers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kombu import serialization as kombu_serialization

from kombu_lite import serialization
from kombu_lite.exceptions import (
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    EncodeError,
    SerializerNotInstalled,
)
from kombu_lite.serialization import SerializerRegistry

JSON = "application/json"
PICKLE = "application/x-python-serialize"
YAML = "application/x-yaml"
MSGPACK = "application/x-msgpack"


@pytest.fixture
def registry() -> SerializerRegistry:
    return SerializerRegistry()


@pytest.fixture
def default_registry() -> Iterator[SerializerRegistry]:
    """The module's registry, restored after the test."""
    yield serialization.registry
    serialization.registry.reset()


# -- dumps: the automatic choice ---------------------------------------------------


def test_dict_body_is_json_by_default(registry: SerializerRegistry) -> None:
    assert registry.dumps({"a": 1}) == (JSON, "utf-8", b'{"a": 1}')


def test_bytes_body_is_sent_as_application_data(registry: SerializerRegistry) -> None:
    assert registry.dumps(b"\x00\x01") == ("application/data", "binary", b"\x00\x01")


def test_str_body_is_sent_as_utf8_text_plain(registry: SerializerRegistry) -> None:
    assert registry.dumps("héllo") == ("text/plain", "utf-8", "héllo".encode())


def test_str_body_with_json_serializer_is_json_encoded(
    registry: SerializerRegistry,
) -> None:
    assert registry.dumps("s", serializer="json") == (JSON, "utf-8", b'"s"')


def test_payload_is_always_bytes(registry: SerializerRegistry) -> None:
    for serializer in (None, "json", "pickle", "yaml", "msgpack", "raw"):
        _, _, payload = registry.dumps("text", serializer=serializer)
        assert type(payload) is bytes, serializer


def test_lone_surrogate_in_str_body_raises_encode_error(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(EncodeError, match="UTF-8"):
        registry.dumps("\ud800")


# -- dumps: raw ---------------------------------------------------------------------


def test_raw_sends_str_as_utf8_application_data(registry: SerializerRegistry) -> None:
    assert registry.dumps("é", serializer="raw") == (
        "application/data",
        "utf-8",
        "é".encode(),
    )


def test_raw_sends_bytes_like_bodies_as_binary(registry: SerializerRegistry) -> None:
    for body in (b"ab", bytearray(b"ab"), memoryview(b"ab")):
        assert registry.dumps(body, serializer="raw") == (
            "application/data",
            "binary",
            b"ab",
        )


def test_raw_refuses_a_dict(registry: SerializerRegistry) -> None:
    with pytest.raises(EncodeError, match="'raw' sends bytes or str"):
        registry.dumps({"a": 1}, serializer="raw")


# -- dumps: errors ------------------------------------------------------------------


def test_unknown_serializer_raises_listing_installed_ones(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(SerializerNotInstalled, match="json, msgpack, pickle, yaml"):
        registry.dumps({}, serializer="protobuf")


def test_unhashable_serializer_name_raises_serializer_not_installed(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(SerializerNotInstalled):
        registry.encoder_for(["json"])  # type: ignore[arg-type]


def test_unencodable_body_raises_encode_error_naming_serializer_and_type(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(EncodeError, match=r"serializer 'json' .* type set") as info:
        registry.dumps({1, 2})

    assert isinstance(info.value.__cause__, Exception)


def test_msgpack_encode_failure_raises_encode_error(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(EncodeError, match="serializer 'msgpack'"):
        registry.dumps(object(), serializer="msgpack")


# -- encoder_for --------------------------------------------------------------------


def test_encoder_for_unknown_name_fails_before_any_body(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(SerializerNotInstalled, match="'nope'"):
        registry.encoder_for("nope")


def test_encoder_for_returns_the_same_codec_each_time(
    registry: SerializerRegistry,
) -> None:
    assert registry.encoder_for("json") is registry.encoder_for("json")


def test_fixed_codec_exposes_its_content_type(registry: SerializerRegistry) -> None:
    codec = registry.encoder_for("msgpack")

    assert (codec.name, codec.content_type, codec.content_encoding) == (
        "msgpack",
        MSGPACK,
        "binary",
    )
    assert codec.content_type_for({"a": 1}) == (MSGPACK, "binary")


def test_automatic_codec_labels_each_body(registry: SerializerRegistry) -> None:
    codec = registry.encoder_for(None)

    assert codec.content_type is None
    assert codec.content_type_for(b"x") == ("application/data", "binary")
    assert codec.content_type_for("x") == ("text/plain", "utf-8")
    assert codec.content_type_for([1]) == (JSON, "utf-8")


def test_automatic_codec_encodes_by_body_type(registry: SerializerRegistry) -> None:
    codec = registry.encoder_for(None)

    assert codec.encode(b"x") == b"x"
    assert codec.encode("é") == "é".encode()
    assert codec.encode([1]) == b"[1]"


def test_codec_dumps_matches_registry_dumps(registry: SerializerRegistry) -> None:
    codec = registry.encoder_for("raw")

    assert codec.dumps("x") == registry.dumps("x", serializer="raw")


def test_resolved_codec_survives_unregister(registry: SerializerRegistry) -> None:
    codec = registry.encoder_for("json")

    registry.unregister("json")

    assert codec.encode([1]) == b"[1]"


def test_decode_only_serializer_cannot_encode(registry: SerializerRegistry) -> None:
    registry.register("csv", None, bytes.decode, "text/csv")

    with pytest.raises(SerializerNotInstalled, match="only a decoder"):
        registry.encoder_for("csv")


def test_automatic_choice_fails_when_default_serializer_is_gone(
    registry: SerializerRegistry,
) -> None:
    registry.unregister("json")

    with pytest.raises(SerializerNotInstalled, match="'json'"):
        registry.encoder_for(None)


# -- register / unregister ---------------------------------------------------------


def test_registered_serializer_round_trips(registry: SerializerRegistry) -> None:
    registry.register("upper", str.upper, bytes.decode, "text/x-upper", "utf-8")

    assert registry.dumps("abc", serializer="upper") == (
        "text/x-upper",
        "utf-8",
        b"ABC",
    )
    assert registry.loads(b"ABC", "text/x-upper", "utf-8") == "ABC"


def test_str_result_of_a_binary_serializer_is_encoded_as_utf8(
    registry: SerializerRegistry,
) -> None:
    registry.register(
        "rev", lambda body: body[::-1], None, "application/x-rev", "binary"
    )

    assert registry.dumps("é!", serializer="rev")[2] == "!é".encode()


def test_bytearray_result_is_returned_as_bytes(registry: SerializerRegistry) -> None:
    registry.register("ba", bytearray, None, "application/x-ba", "binary")

    assert registry.dumps(b"ab", serializer="ba")[2] == b"ab"


def test_encoder_returning_something_else_raises_encode_error(
    registry: SerializerRegistry,
) -> None:
    registry.register("bad", len, None, "application/x-bad")

    with pytest.raises(EncodeError, match="returned a int"):
        registry.dumps("abc", serializer="bad")


def test_registering_again_replaces_the_serializer(
    registry: SerializerRegistry,
) -> None:
    registry.register("x", lambda body: b"1", None, "application/x-one")
    registry.register("x", lambda body: b"2", None, "application/x-two")

    assert registry.dumps(None, serializer="x") == ("application/x-two", "utf-8", b"2")
    with pytest.raises(SerializerNotInstalled):
        registry.enable("application/x-one")


def test_register_refuses_a_content_type_owned_by_another_name(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(ConfigurationError, match="belongs to serializer 'json'"):
        registry.register("myjson", bytes, None, JSON)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("", "a/b"), ("raw", "a/b"), ("a/b", "a/b"), ("name", "no-slash")],
)
def test_register_refuses_bad_names_and_content_types(
    registry: SerializerRegistry, name: str, content_type: str
) -> None:
    with pytest.raises(ConfigurationError):
        registry.register(name, bytes, None, content_type)


def test_register_refuses_no_encoder_and_no_decoder(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(ConfigurationError, match="needs an encoder, a decoder"):
        registry.register("none", None, None, "application/x-none")


def test_unregister_unknown_name_raises(registry: SerializerRegistry) -> None:
    with pytest.raises(SerializerNotInstalled, match="'nope'"):
        registry.unregister("nope")


def test_unregister_removes_the_decoder(registry: SerializerRegistry) -> None:
    registry.unregister("json")

    assert registry.loads(b"[1]", JSON, "utf-8") == "[1]"


def test_reset_restores_builtins(registry: SerializerRegistry) -> None:
    registry.unregister("json")
    registry.enable_insecure_serializers()

    registry.reset()

    assert registry.dumps([1]) == (JSON, "utf-8", b"[1]")
    with pytest.raises(ContentDisallowed):
        registry.loads(pickle.dumps(1), PICKLE, "binary")


# -- loads ----------------------------------------------------------------------------


def test_json_payload_decodes(registry: SerializerRegistry) -> None:
    assert registry.loads(b'{"a": [1]}', JSON, "utf-8") == {"a": [1]}


def test_bad_json_raises_decode_error(registry: SerializerRegistry) -> None:
    with pytest.raises(DecodeError, match="serializer 'json' could not decode"):
        registry.loads(b"{not json", JSON, "utf-8")


def test_empty_payload_is_returned_as_is(registry: SerializerRegistry) -> None:
    assert registry.loads(b"", JSON, "utf-8") == b""


def test_missing_content_type_means_application_data(
    registry: SerializerRegistry,
) -> None:
    assert registry.loads(b"\xff", None, None, accept={JSON}) == b"\xff"


def test_text_payload_without_decoder_is_decoded_with_its_encoding(
    registry: SerializerRegistry,
) -> None:
    assert registry.loads("é".encode("latin-1"), "text/x-thing", "LATIN-1") == "é"


def test_text_plain_without_encoding_decodes_as_utf8(
    registry: SerializerRegistry,
) -> None:
    assert registry.loads("é".encode(), "text/plain", None) == "é"


def test_binary_payload_without_decoder_stays_bytes(
    registry: SerializerRegistry,
) -> None:
    assert registry.loads(b"\xff", "application/data", "binary") == b"\xff"


def test_unlabelled_non_text_payload_stays_bytes(registry: SerializerRegistry) -> None:
    assert registry.loads(b"\xff", "application/octet-stream", None) == b"\xff"


def test_undecodable_text_raises_decode_error(registry: SerializerRegistry) -> None:
    with pytest.raises(DecodeError, match="as utf-8"):
        registry.loads(b"\xff", "text/plain", "utf-8")


def test_unknown_text_encoding_raises_decode_error(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(DecodeError, match="no-such-codec"):
        registry.loads(b"x", "text/plain", "no-such-codec")


def test_decoder_error_is_wrapped_in_decode_error(registry: SerializerRegistry) -> None:
    def boom(data: bytes) -> Any:
        raise RuntimeError("corrupt")

    registry.register("boom", None, boom, "application/x-boom")

    with pytest.raises(DecodeError, match=r"'boom' could not decode .* corrupt"):
        registry.loads(b"x", "application/x-boom", "binary")


# -- accept ----------------------------------------------------------------------------


def test_accept_refuses_a_type_it_does_not_list(registry: SerializerRegistry) -> None:
    with pytest.raises(
        ContentDisallowed,
        match=r"untrusted content of type yaml \(application/x-yaml\)",
    ) as info:
        registry.loads(b"a: 1", YAML, "utf-8", accept={JSON})

    assert "accepts application/json" in str(info.value)


def test_accept_allows_a_listed_insecure_type(registry: SerializerRegistry) -> None:
    payload = pickle.dumps({"a": 1}, protocol=4)

    assert registry.loads(payload, PICKLE, "binary", accept={PICKLE}) == {"a": 1}


@pytest.mark.parametrize(
    "content_type", ["application/data", "application/text", "text/plain"]
)
def test_trusted_types_pass_any_accept_list(
    registry: SerializerRegistry, content_type: str
) -> None:
    assert registry.loads(b"x", content_type, "utf-8", accept=set()) == "x"


def test_other_text_types_are_not_trusted(registry: SerializerRegistry) -> None:
    with pytest.raises(ContentDisallowed, match="text/html"):
        registry.loads(b"x", "text/html", "utf-8", accept={JSON})


def test_accept_with_names_instead_of_types_says_how_to_fix_it(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(ContentDisallowed, match="prepare_accept_content"):
        registry.loads(b"[1]", JSON, "utf-8", accept=["json"])


def test_empty_accept_refuses_everything_untrusted(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(ContentDisallowed, match="accepts nothing"):
        registry.loads(b"[1]", JSON, "utf-8", accept=frozenset())


def test_prepare_accept_content_maps_names_to_types(
    registry: SerializerRegistry,
) -> None:
    assert registry.prepare_accept_content(["json", "pickle", "text/plain", "raw"]) == {
        JSON,
        PICKLE,
        "text/plain",
        "application/data",
    }


def test_prepare_accept_content_keeps_none(registry: SerializerRegistry) -> None:
    assert registry.prepare_accept_content(None) is None


def test_prepare_accept_content_refuses_unknown_names(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(SerializerNotInstalled, match="'jsn'"):
        registry.prepare_accept_content(["jsn"])


def test_prepare_accept_content_refuses_a_bare_string(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(ConfigurationError, match=r"\['json'\]"):
        registry.prepare_accept_content("json")


# -- insecure serializers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "encoding"),
    [
        ("pickle", PICKLE, "binary"),
        ("yaml", YAML, "utf-8"),
        ("msgpack", MSGPACK, "binary"),
    ],
)
def test_insecure_types_are_refused_without_accept(
    registry: SerializerRegistry, name: str, content_type: str, encoding: str
) -> None:
    _, _, payload = registry.dumps({"a": 1}, serializer=name)

    with pytest.raises(ContentDisallowed, match="disabled content") as info:
        registry.loads(payload, content_type, encoding)

    assert f"enable_insecure_serializers(['{name}'])" in str(info.value)


def test_force_decodes_a_disabled_type(registry: SerializerRegistry) -> None:
    payload = pickle.dumps([1, 2], protocol=4)

    assert registry.loads(payload, PICKLE, "binary", force=True) == [1, 2]


def test_enable_insecure_serializers_allows_all_three(
    registry: SerializerRegistry,
) -> None:
    registry.enable_insecure_serializers()

    for name in ("pickle", "yaml", "msgpack"):
        content_type, encoding, payload = registry.dumps({"a": [1]}, serializer=name)
        assert registry.loads(payload, content_type, encoding) == {"a": [1]}


def test_enable_insecure_serializers_accepts_content_types(
    registry: SerializerRegistry,
) -> None:
    registry.enable_insecure_serializers([MSGPACK])

    assert registry.loads(msgpack.packb([1]), MSGPACK, "binary") == [1]


def test_enable_insecure_serializers_refuses_unknown_names_and_changes_nothing(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(SerializerNotInstalled, match="'pickel'"):
        registry.enable_insecure_serializers(["yaml", "pickel"])

    with pytest.raises(ContentDisallowed):
        registry.loads(b"a: 1", YAML, "utf-8")


def test_disable_insecure_serializers_keeps_only_allowed(
    registry: SerializerRegistry,
) -> None:
    registry.enable_insecure_serializers()

    registry.disable_insecure_serializers(allowed=["msgpack"])

    assert registry.loads(msgpack.packb(1), MSGPACK, "binary") == 1
    for content_type in (JSON, PICKLE, YAML):
        with pytest.raises(ContentDisallowed):
            registry.loads(b"1", content_type, "utf-8")


def test_disable_insecure_serializers_with_none_disables_every_decoder(
    registry: SerializerRegistry,
) -> None:
    registry.disable_insecure_serializers(allowed=None)

    with pytest.raises(ContentDisallowed):
        registry.loads(b"[1]", JSON, "utf-8")


def test_disable_insecure_serializers_refuses_unknown_names(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(SerializerNotInstalled):
        registry.disable_insecure_serializers(allowed=["jason"])

    assert registry.loads(b"[1]", JSON, "utf-8") == [1]


def test_disable_then_enable_by_name(registry: SerializerRegistry) -> None:
    registry.disable("json")
    with pytest.raises(ContentDisallowed):
        registry.loads(b"[1]", JSON, "utf-8")

    registry.enable("json")

    assert registry.loads(b"[1]", JSON, "utf-8") == [1]


def test_disable_unknown_content_type_raises(registry: SerializerRegistry) -> None:
    with pytest.raises(SerializerNotInstalled, match="application/x-nope"):
        registry.disable("application/x-nope")


def test_disabled_unregistered_type_message_names_the_type(
    registry: SerializerRegistry,
) -> None:
    registry.register("tmp", None, bytes.decode, "application/x-tmp")
    registry.disable("tmp")

    with pytest.raises(ContentDisallowed, match="application/x-tmp"):
        registry.loads(b"x", "application/x-tmp", "utf-8")


def test_module_functions_use_the_default_registry(
    default_registry: SerializerRegistry,
) -> None:
    serialization.enable_insecure_serializers(["pickle"])

    assert serialization.loads(pickle.dumps(3), PICKLE, "binary") == 3

    serialization.disable_insecure_serializers()

    with pytest.raises(ContentDisallowed):
        serialization.loads(pickle.dumps(3), PICKLE, "binary")


# -- built-in serializers ---------------------------------------------------------


@pytest.mark.parametrize("name", ["json", "pickle", "yaml", "msgpack"])
def test_every_builtin_round_trips_a_dict(
    registry: SerializerRegistry, name: str
) -> None:
    body = {"id": 7, "tags": ["a", "é"], "ok": True, "none": None}
    content_type, encoding, payload = registry.dumps(body, serializer=name)

    assert registry.loads(payload, content_type, encoding, force=True) == body


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        Decimal("3.14"),
    ],
    ids=repr,
)
def test_json_round_trips_rich_types(registry: SerializerRegistry, value: Any) -> None:
    assert registry.loads(registry.dumps({"v": value})[2], JSON, "utf-8") == {
        "v": value
    }


def test_pickle_uses_protocol_4_for_kombu_interop(registry: SerializerRegistry) -> None:
    payload = registry.dumps([1], serializer="pickle")[2]

    assert payload[:2] == b"\x80\x04"


def test_msgpack_keeps_bytes_and_str_apart(registry: SerializerRegistry) -> None:
    payload = registry.dumps({"b": b"\x00", "s": "x"}, serializer="msgpack")[2]

    assert registry.loads(payload, MSGPACK, "binary", force=True) == {
        "b": b"\x00",
        "s": "x",
    }


def test_yaml_uses_safe_load(registry: SerializerRegistry) -> None:
    payload = b"!!python/object/apply:os.system ['true']"

    with pytest.raises(DecodeError, match="'yaml'"):
        registry.loads(payload, YAML, "utf-8", force=True)


@pytest.mark.parametrize("name", ["json", "pickle", "yaml", "msgpack"])
def test_kombu_reads_what_we_serialize(registry: SerializerRegistry, name: str) -> None:
    body = {"id": 7, "tags": ["a", "é"]}
    content_type, encoding, payload = registry.dumps(body, serializer=name)

    assert (
        kombu_serialization.loads(payload, content_type, encoding, force=True) == body
    )


@pytest.mark.parametrize("name", ["json", "pickle", "yaml", "msgpack"])
def test_we_read_what_kombu_serializes(registry: SerializerRegistry, name: str) -> None:
    body = {"id": 7, "tags": ["a", "é"]}
    content_type, encoding, payload = kombu_serialization.dumps(body, serializer=name)
    data = payload.encode(encoding) if isinstance(payload, str) else payload

    assert registry.loads(data, content_type, encoding, force=True) == body


@pytest.mark.parametrize(
    ("module", "name", "extra"),
    [("yaml", "yaml", "yaml"), ("msgpack", "msgpack", "msgpack")],
)
def test_missing_optional_library_raises_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, name: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    registry = SerializerRegistry()

    with pytest.raises(SerializerNotInstalled, match=rf"kombu-lite\[{extra}\]"):
        registry.encoder_for(name)


def test_missing_library_error_keeps_its_extra_through_pickling(
    monkeypatch: pytest.MonkeyPatch, registry: SerializerRegistry
) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(SerializerNotInstalled) as info:
        registry.loads(b"\x01", "application/x-msgpack", "binary", force=True)

    copy = pickle.loads(pickle.dumps(info.value))

    assert (info.value.extra, copy.extra) == ("msgpack", "msgpack")
    assert str(copy) == str(info.value)


def test_missing_optional_library_on_decode_is_not_a_decode_error(
    monkeypatch: pytest.MonkeyPatch, registry: SerializerRegistry
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)

    with pytest.raises(SerializerNotInstalled, match="PyYAML"):
        registry.loads(b"a: 1", YAML, "utf-8", force=True)


def test_importing_serialization_leaves_optional_libraries_unloaded() -> None:
    code = (
        "import sys, kombu_lite.serialization, kombu_lite.compression\n"
        "print(sorted(m for m in ('yaml', 'msgpack', 'brotli', 'backports.zstd') "
        "if m in sys.modules))"
    )
    # The directory holding the kombu_lite package (serialization is a package).
    root = str(Path(serialization.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )

    assert result.stdout.strip() == "[]"


# -- properties -------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text().filter(lambda key: key not in ("__type__", "__value__")),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@given(_json_values)
def test_json_dumps_then_loads_is_identity(body: Any) -> None:
    content_type, encoding, payload = serialization.dumps(body, serializer="json")

    assert serialization.loads(payload, content_type, encoding) == body


@given(st.binary())
def test_bytes_survive_the_automatic_choice(body: bytes) -> None:
    content_type, encoding, payload = serialization.dumps(body)

    assert serialization.loads(payload, content_type, encoding) == body


@given(st.text(min_size=1))  # an empty payload comes back as b"", as in kombu
def test_text_survives_the_automatic_choice(body: str) -> None:
    content_type, encoding, payload = serialization.dumps(body)

    assert serialization.loads(payload, content_type, encoding) == body


def test_library_removed_after_resolving_raises_serializer_not_installed(
    monkeypatch: pytest.MonkeyPatch, registry: SerializerRegistry
) -> None:
    codec = registry.encoder_for("yaml")
    monkeypatch.setitem(sys.modules, "yaml", None)

    with pytest.raises(SerializerNotInstalled, match="PyYAML"):
        codec.encode({"a": 1})


_any_body = _json_values | st.binary() | st.text()
#: msgpack carries integers of at most 64 bits; bigger ones cannot be encoded.
_msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)


@pytest.mark.parametrize(
    ("name", "bodies"),
    [
        (None, _any_body),
        ("json", _any_body),
        ("raw", st.binary() | st.text()),
        ("pickle", _any_body),
        ("msgpack", _msgpack_values | st.binary() | st.text()),
        ("yaml", _any_body),
    ],
)
@given(data=st.data())
def test_dump_is_encode_and_labels_in_one_call(
    name: str | None, bodies: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    codec = SerializerRegistry().encoder_for(name)
    body = data.draw(bodies)

    assert codec.dump(body) == (codec.encode(body), *codec.content_type_for(body))


def test_dump_raises_encode_error_like_encode() -> None:
    codec = SerializerRegistry().encoder_for(None)

    with pytest.raises(EncodeError, match="not JSON serializable"):
        codec.dump({"bad": object()})


# -- kombu's registry attributes and helpers (issues 13 and 19) -----------------------


def test_the_name_mappings_are_read_only_views(registry: SerializerRegistry) -> None:
    with pytest.raises(TypeError):
        registry.name_to_type["x"] = "application/x"  # type: ignore[index]


def test_registering_again_keeps_a_disabled_type_disabled(
    registry: SerializerRegistry,
) -> None:
    registry.register("pickle", pickle.dumps, pickle.loads, PICKLE, "binary")

    with pytest.raises(ContentDisallowed):
        registry.loads(pickle.dumps(1), PICKLE, "binary")


def test_register_builtin_refuses_an_unknown_name(registry: SerializerRegistry) -> None:
    with pytest.raises(SerializerNotInstalled, match="no built-in serializer"):
        registry.register_builtin("nope")


def test_register_builtin_keeps_an_enabled_serializer_enabled(
    registry: SerializerRegistry,
) -> None:
    registry.enable("pickle")

    registry.register_builtin("pickle")

    assert registry.loads(pickle.dumps(1), PICKLE, "binary") == 1


def test_content_type_of(registry: SerializerRegistry) -> None:
    assert registry.content_type_of(None) == JSON
    assert registry.content_type_of("raw") == "application/data"
    assert registry.content_type_of("pickle") == PICKLE


@pytest.mark.parametrize(
    ("content_type", "content_encoding", "match"),
    [
        (b"\xff", "utf-8", "content_type must be ASCII"),
        (3, "utf-8", "content_type must be a str"),
        ("a/b", 3, "content_encoding must be a str"),
    ],
)
def test_loads_refuses_bad_labels_with_decode_error(
    registry: SerializerRegistry,
    content_type: object,
    content_encoding: object,
    match: str,
) -> None:
    with pytest.raises(DecodeError, match=match):
        registry.loads(b"x", content_type, content_encoding)  # type: ignore[arg-type]


def test_loads_reads_bytes_labels(registry: SerializerRegistry) -> None:
    assert registry.loads(b"[1]", b"application/json", b"utf-8") == [1]  # type: ignore[arg-type]


def test_loads_refuses_an_accept_that_is_not_a_collection(
    registry: SerializerRegistry,
) -> None:
    with pytest.raises(DecodeError, match="accept must be a collection"):
        registry.loads(b"x", "a/b", "utf-8", accept=3)  # type: ignore[arg-type]


def test_loads_returns_str_without_a_decoder(registry: SerializerRegistry) -> None:
    assert registry.loads("text", "application/x-none", "utf-8") == "text"
