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

import pickle as pickle
from typing import Any

from kombu_lite.serialization.codecs import PICKLE_PROTOCOL as PICKLE_PROTOCOL
from kombu_lite.serialization.codecs import (
    TRUSTED_CONTENT_TYPES as TRUSTED_CONTENT_TYPES,
)
from kombu_lite.serialization.codecs import Codec as Codec
from kombu_lite.serialization.codecs import raw_encode as _raw_payload
from kombu_lite.serialization.codecs import raw_labels as _raw_labels
from kombu_lite.serialization.registry import (
    SerializerRegistry as SerializerRegistry,
)

__all__ = [
    "PICKLE_PROTOCOL",
    "TRUSTED_CONTENT_TYPES",
    "Codec",
    "SerializerRegistry",
    "disable_insecure_serializers",
    "dumps",
    "enable_insecure_serializers",
    "loads",
    "pickle",
    "pickle_protocol",
    "prepare_accept_content",
    "raw_encode",
    "register",
    "register_json",
    "register_msgpack",
    "register_pickle",
    "register_yaml",
    "registry",
    "unregister",
]


#: The default registry, used by producers and consumers.
registry = SerializerRegistry()
register = registry.register
unregister = registry.unregister
dumps = registry.dumps
loads = registry.loads
prepare_accept_content = registry.prepare_accept_content
enable_insecure_serializers = registry.enable_insecure_serializers
disable_insecure_serializers = registry.disable_insecure_serializers
#: kombu's name for :data:`PICKLE_PROTOCOL`.
pickle_protocol = PICKLE_PROTOCOL


def raw_encode(data: Any) -> tuple[str, str, bytes]:
    """The ``'raw'`` serializer: ``(content_type, content_encoding, payload)``.

    As kombu's: bytes go as they are (``'binary'``), ``str`` as UTF-8.

    Raises:
        EncodeError: ``data`` is neither bytes-like nor ``str`` (kombu
            returns such an object unchanged as the "payload").
    """
    payload = _raw_payload(data)
    content_type, content_encoding = _raw_labels(data)
    return content_type, content_encoding, payload


def register_json() -> None:
    """Register the built-in ``json`` serializer again in :data:`registry`."""
    registry.register_builtin("json")


def register_pickle() -> None:
    """Register the built-in ``pickle`` serializer again in :data:`registry`.

    If it was not registered, it comes back disabled for decoding, as at
    start-up (kombu leaves its disabled state as it was too).
    """
    registry.register_builtin("pickle")


def register_yaml() -> None:
    """Register the built-in ``yaml`` serializer again in :data:`registry`.

    PyYAML is imported on first use; without it, encoding and decoding
    raise :class:`~kombu_lite.exceptions.SerializerNotInstalled`.
    """
    registry.register_builtin("yaml")


def register_msgpack() -> None:
    """Register the built-in ``msgpack`` serializer again in :data:`registry`.

    msgpack is imported on first use; without it, encoding and decoding
    raise :class:`~kombu_lite.exceptions.SerializerNotInstalled`.
    """
    registry.register_builtin("msgpack")
