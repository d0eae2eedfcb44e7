"""``kombu.serialization``: the registry, dumps/loads and the register_* helpers.

Each test body runs against kombu_lite and kombu (the ``lib`` fixture);
tests that change the global registry put it back in a finalizer.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Lib

JSON = "application/json"
PICKLE = "application/x-python-serialize"


@pytest.fixture
def serialization(lib: Lib) -> Iterator[Any]:
    """The library's serialization module; its registry is restored after."""
    module = lib.module("serialization")
    yield module
    for name in list(module.registry.name_to_type):
        if name not in ("json", "pickle", "yaml", "msgpack"):
            module.unregister(name)
    module.register_json()
    module.register_pickle()
    module.register_yaml()
    module.register_msgpack()
    module.disable_insecure_serializers()


@pytest.mark.parametrize(
    "name",
    [
        "registry",
        "register",
        "unregister",
        "dumps",
        "loads",
        "raw_encode",
        "pickle",
        "pickle_protocol",
        "prepare_accept_content",
        "register_json",
        "register_pickle",
        "register_yaml",
        "register_msgpack",
        "enable_insecure_serializers",
        "disable_insecure_serializers",
    ],
)
def test_the_module_has_kombus_names(serialization: Any, name: str) -> None:
    assert hasattr(serialization, name)


def test_pickle_is_the_standard_library_module(serialization: Any) -> None:
    assert serialization.pickle is pickle


def test_name_to_type_and_type_to_name_list_the_built_in_serializers(
    serialization: Any,
) -> None:
    registry = serialization.registry

    assert registry.name_to_type["json"] == JSON
    assert registry.name_to_type["pickle"] == PICKLE
    assert registry.type_to_name[JSON] == "json"
    assert registry.type_to_name["application/x-msgpack"] == "msgpack"


def test_register_and_unregister_keep_the_mappings_in_step(
    serialization: Any,
) -> None:
    registry = serialization.registry
    serialization.register(
        "upper", lambda body: body.upper(), lambda data: data, "application/x-upper"
    )

    assert registry.name_to_type["upper"] == "application/x-upper"
    assert registry.type_to_name["application/x-upper"] == "upper"
    serialization.unregister("upper")
    assert "upper" not in registry.name_to_type
    assert "application/x-upper" not in registry.type_to_name


def test_register_none_registers_nothing(serialization: Any, lib: Lib) -> None:
    serialization.register(None, None, None, None)  # kombu's own test

    assert serialization.dumps({"a": 1})[0] == JSON


def test_unregister_then_register_pickle_restores_it(
    serialization: Any, lib: Lib
) -> None:
    not_installed = lib.attr("exceptions", "SerializerNotInstalled")
    serialization.unregister("pickle")
    with pytest.raises(not_installed):
        serialization.dumps("foo", serializer="pickle")

    serialization.register_pickle()

    content_type, _encoding, payload = serialization.dumps([1], serializer="pickle")
    assert content_type == PICKLE
    assert pickle.loads(payload) == [1]


def test_pickle_stays_disabled_after_register_pickle(
    serialization: Any, lib: Lib
) -> None:
    disallowed = lib.attr("exceptions", "ContentDisallowed")
    payload = pickle.dumps([1])

    serialization.register_pickle()

    with pytest.raises(disallowed):
        serialization.loads(payload, PICKLE, "binary")


def test_raw_encode_returns_kombus_triple(serialization: Any) -> None:
    assert serialization.raw_encode(b"foo") == ("application/data", "binary", b"foo")
    assert serialization.raw_encode("é") == ("application/data", "utf-8", "é".encode())


def test_raw_encode_of_a_non_bytes_body(serialization: Any, lib: Lib) -> None:
    # kombu returns the object as the "payload", which fails later in the
    # transport; kombu_lite refuses it at once (docs/migrating.rst).
    body = object()
    if lib.is_kombu:
        assert serialization.raw_encode(body)[2] is body
    else:
        with pytest.raises(lib.attr("exceptions", "EncodeError")):
            serialization.raw_encode(body)


def test_dumps_of_an_unserializable_body_raises_encode_error(
    serialization: Any, lib: Lib
) -> None:
    with pytest.raises(lib.attr("exceptions", "EncodeError")):
        serialization.dumps([object()], serializer="json")


@pytest.mark.parametrize(
    ("data", "content_type", "content_encoding"),
    [
        (object(), JSON, "utf-8"),
        (b"{not json", JSON, "utf-8"),
        (object(), "application/data", "utf-8"),
        (b"\xff\xfe", "text/plain", "utf-8"),
        (b"abc", "application/data", "no-such-codec"),
    ],
)
def test_loads_raises_decode_error_for_every_bad_input(
    serialization: Any,
    lib: Lib,
    data: object,
    content_type: str,
    content_encoding: str,
) -> None:
    with pytest.raises(lib.attr("exceptions", "DecodeError")):
        serialization.loads(data, content_type, content_encoding)


def test_loads_of_a_falsy_payload_returns_it(serialization: Any) -> None:
    assert serialization.loads(None, JSON, "utf-8") is None
    assert serialization.loads(b"", JSON, "utf-8") == b""


def test_loads_decodes_text_and_keeps_binary(serialization: Any) -> None:
    text = "abcdé\u8463"

    assert serialization.loads(text.encode(), "plain/text", "utf-8") == text
    assert serialization.loads(b"\x00\x01", "application/data", "binary") == b"\x00\x01"


def test_loads_of_trusted_and_accepted_content(serialization: Any, lib: Lib) -> None:
    disallowed = lib.attr("exceptions", "ContentDisallowed")

    assert serialization.loads(b"tainted", "application/data", "binary", accept=[])
    with pytest.raises(disallowed):
        serialization.loads(b"tainted", "application/x-evil", "binary", accept=[])
    assert serialization.loads(
        b"ok", "application/x-doomsday", "binary", accept=["application/x-doomsday"]
    )


def test_enable_and_disable_insecure_serializers(serialization: Any, lib: Lib) -> None:
    disallowed = lib.attr("exceptions", "ContentDisallowed")
    payload = pickle.dumps({"a": 1})

    serialization.enable_insecure_serializers(["pickle"])
    assert serialization.loads(payload, PICKLE, "binary") == {"a": 1}
    serialization.disable_insecure_serializers()
    with pytest.raises(disallowed):
        serialization.loads(payload, PICKLE, "binary")


def test_prepare_accept_content_uses_name_to_type(serialization: Any) -> None:
    assert serialization.prepare_accept_content(["json", "application/x-other"]) == {
        JSON,
        "application/x-other",
    }
