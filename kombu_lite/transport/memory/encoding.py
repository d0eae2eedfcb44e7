"""What a py-amqp client refuses to put on the wire, refused the same way in memory.

The py-amqp transport encodes each ``basic.publish`` itself (see
:mod:`kombu_lite.transport.pyamqp.framing`) and raises
:class:`~kombu_lite.exceptions.EncodeError`, before anything is sent, when
a name or a property does not fit its AMQP type.  A message published to
the memory broker is never encoded, so these checks apply the same rules,
in the same order and with the same texts; code that publishes fine on
``memory://`` then does not fail on RabbitMQ:

* the exchange, the routing key and the string properties are AMQP short
  strings: ``str`` only, at most 255 bytes once encoded as UTF-8;
* ``delivery_mode`` and ``priority`` are octets: an ``int`` from 0 to 255;
* ``timestamp`` is an ``int`` of POSIX seconds, from 0 to 2**64 - 1;
* ``headers`` is an AMQP field table, with the values py-amqp's encoder
  accepts (see :func:`check_properties`) and no float that is NaN or
  infinite, which RabbitMQ cannot read (it closes the connection);
* the content header must fit in one frame of RabbitMQ's default
  ``frame_max`` (131072 bytes), the limit a py-amqp connection with
  default settings has.

``bool`` counts as neither an ``int`` nor a short string here, as in the
py-amqp transport.

What the checks let through is stored as a consumer on RabbitMQ would read
it back (:func:`as_from_the_wire`): a header value is never the very object
the publisher passed, so a test on ``memory://`` sees the same headers as
on RabbitMQ.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from kombu_lite.exceptions import EncodeError
from kombu_lite.transport._rabbitmq import non_finite_detail

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kombu_lite.transport.base import BasicProperties

__all__ = [
    "FRAME_MAX",
    "as_from_the_wire",
    "check_names",
    "check_properties",
    "wire_names",
]

#: RabbitMQ's default ``frame_max``, which py-amqp's default also is.
FRAME_MAX: Final = 131072
#: The largest property list one content-header frame holds: the frame
#: overhead (8 bytes) and class, weight and body size (12 bytes) taken off.
_MAX_ENCODED = FRAME_MAX - 8 - 12
# A short string of this many characters or fewer fits in 255 bytes of
# UTF-8 whatever the characters (4 bytes each at most).
_ALWAYS_SHORT = 63
_INT32 = 2**31
_INT64 = 2**63
_UINT64 = 2**64

# The short-string properties after ``priority``, in wire order.
_MIDDLE_SHORTSTRS: Final = ("correlation_id", "reply_to", "expiration", "message_id")
_TRAILING_SHORTSTRS: Final = ("type", "user_id", "app_id", "cluster_id")


def check_names(exchange: object, routing_key: object) -> None:
    """Check the exchange name and routing key of a publish.

    Raises:
        EncodeError: one is not a ``str`` or is over 255 bytes in UTF-8.
    """
    _shortstr("exchange", exchange)
    _shortstr("routing_key", routing_key)


def check_properties(properties: BasicProperties) -> None:
    """Check that ``properties`` can be encoded as py-amqp encodes them.

    ``headers`` may be any falsy value (sent as an empty table) or have an
    ``items()`` method.  Its keys are ``str`` or bytes-like, at most 255
    bytes long.  Its values, like the values of nested tables and arrays,
    may be ``str``, ``bytes``, ``bool``, ``float``, an ``int`` of 64 bits,
    a finite ``float`` (RabbitMQ closes the connection on a NaN or an
    infinity), a ``Decimal`` with 0 to 255 decimal places and a 32-bit
    unscaled value,
    a ``datetime`` from 1970 on, a ``dict`` (a nested table), a ``list`` or
    ``tuple`` (an array), or ``None``.

    Raises:
        EncodeError: a value does not fit its AMQP type, or the properties
            need more than one frame; the message names which.
    """
    size = 2  # the property flags
    value: object = properties.content_type
    if value is not None:
        size += _shortstr("content_type", value)
    value = properties.content_encoding
    if value is not None:
        size += _shortstr("content_encoding", value)
    headers = properties.headers
    if headers is not None:
        size += _headers_size(headers)
    if properties.delivery_mode is not None:
        size += _octet("delivery_mode", properties.delivery_mode)
    if properties.priority is not None:
        size += _octet("priority", properties.priority)
    for name in _MIDDLE_SHORTSTRS:
        value = getattr(properties, name)
        if value is not None:
            size += _shortstr(name, value)
    stamp: object = properties.timestamp
    if stamp is not None:
        if (
            isinstance(stamp, bool)
            or not isinstance(stamp, int)
            or not 0 <= stamp < _UINT64
        ):
            raise EncodeError(
                f"timestamp must be an int of POSIX seconds >= 0, not {stamp!r}"
            )
        size += 8
    for name in _TRAILING_SHORTSTRS:
        value = getattr(properties, name)
        if value is not None:
            size += _shortstr(name, value)
    if size > _MAX_ENCODED:
        raise EncodeError(
            f"the message properties take {size + 12} bytes, more than a frame "
            f"holds on this connection (frame_max {FRAME_MAX}): send fewer or "
            "smaller headers"
        )


def _shortstr(name: str, value: object) -> int:
    """Return the encoded size of a short string; refuse what cannot be one."""
    if not isinstance(value, str):
        raise EncodeError(f"{name} must be a str, not {type(value).__name__}")
    if len(value) <= _ALWAYS_SHORT and value.isascii():
        return 1 + len(value)
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > 255:
        raise EncodeError(
            f"{name} is {size} bytes long once encoded; AMQP short strings "
            f"hold at most 255 bytes"
        )
    return 1 + size


def _octet(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise EncodeError(f"{name} must be from 0 to 255, not {value!r}")
    return 1


def _refused(detail: str) -> EncodeError:
    return EncodeError(f"cannot encode the message headers: {detail}")


def _headers_size(headers: object) -> int:
    # py-amqp sends a falsy headers value as an empty table, and reads any
    # other one through items() (a dict, or any mapping).
    if not headers:
        return 4
    items = getattr(headers, "items", None)
    if not callable(items):
        raise _refused(
            f"headers must be a mapping of header names to values, not "
            f"{type(headers).__name__}"
        )
    try:
        return _table_size(items())
    except RecursionError as exc:
        raise _refused("the headers contain themselves") from exc


def _table_size(items: Iterable[Any]) -> int:
    size = 4  # the table's length
    try:
        pairs = list(items)
    except Exception as exc:  # whatever a mapping's items() raises
        raise _refused(f"reading the headers' items() failed: {exc}") from exc
    for pair in pairs:
        try:
            key, value = pair
        except (TypeError, ValueError) as exc:
            raise _refused(
                f"the headers' items() gave {pair!r}, not a (name, value) pair"
            ) from exc
        size += 1 + _key_size(key)
        try:
            size += _field_size(value)
        except _BadField as bad:
            raise _refused(f"header {_shown(key)} {bad.detail}") from bad
    return size


def _key_size(key: object) -> int:
    if isinstance(key, str):
        raw_size = len(key.encode("utf-8", "surrogatepass"))
        length = raw_size
    else:
        # py-amqp writes any bytes-like key as it is, after its len().
        try:
            length = len(key)  # type: ignore[arg-type]  # len() decides
            raw_size = memoryview(key).nbytes  # type: ignore[arg-type]
        except TypeError as exc:
            raise _refused(
                f"header name {_shown(key)} is a {type(key).__name__}, not a str"
            ) from exc
    if length > 255:
        raise _refused(
            f"header name {_shown(key)} is {length} bytes long; AMQP field names "
            "hold at most 255 bytes"
        )
    return raw_size


def _shown(key: object) -> str:
    """A header name for an error message, cut short if it is long."""
    text = repr(key)
    return text if len(text) <= 40 else f"{text[:37]}..."


class _BadField(Exception):
    """A field value AMQP cannot carry; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _field_size(value: object) -> int:
    """Return the encoded size of one field value, type octet included."""
    # The order of the tests is py-amqp's: it decides what a str subclass
    # that is also something else, or a bool, is sent as.
    if isinstance(value, str):
        if value.isascii():
            return 5 + len(value)
        return 5 + len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes):
        return 5 + len(value)
    if isinstance(value, bool):
        return 2
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _BadField(non_finite_detail(value))
        return 9
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise _BadField(f"holds {value}, which does not fit in 64 bits")
        return 5 if -_INT32 < value < _INT32 else 9
    if isinstance(value, Decimal):
        return _decimal_size(value)
    if isinstance(value, _dt.datetime):
        try:
            seconds = calendar.timegm(value.utctimetuple())
        except (OverflowError, ValueError):
            seconds = -1
        if not 0 <= seconds < _UINT64:
            raise _BadField(f"holds {value!r}, before 1970: not an AMQP timestamp")
        return 9
    if isinstance(value, dict):
        return 1 + _table_size(value.items())
    if isinstance(value, list | tuple):
        return 5 + sum(_field_size(item) for item in value)
    if value is None:
        return 1
    raise _BadField(
        f"holds a {type(value).__name__}, which an AMQP field table cannot carry "
        "(use str, bytes, bool, int, float, Decimal, datetime, dict, list, "
        "tuple or None)"
    )


def _decimal_size(value: Decimal) -> int:
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or not 0 <= -exponent <= 255:
        raise _BadField(
            f"holds Decimal({str(value)!r}): AMQP decimals have 0 to 255 decimal places"
        )
    unscaled = 0
    for digit in digits:
        unscaled = unscaled * 10 + digit
    if sign:
        unscaled = -unscaled
    if not -_INT32 <= unscaled < _INT32:
        raise _BadField(
            f"holds Decimal({str(value)!r}): its digits do not fit in 32 bits"
        )
    return 6


# -- what the wire gives back ------------------------------------------------------


def as_from_the_wire(table: Mapping[Any, object]) -> dict[Any, object]:
    """Return a copy of a headers table as py-amqp decodes it off the wire.

    For a table :func:`check_properties` accepted, the copy holds what a
    consumer of the message on RabbitMQ reads: names and ``bytes`` values
    that are valid UTF-8 become ``str``; tuples become lists; a
    ``datetime`` loses its microseconds and comes back naive, in UTC; a
    ``Decimal`` comes back as its unscaled value over a power of ten
    (``Decimal("1.50")`` as ``Decimal("1.5")``); subclasses of ``str``,
    ``int`` and ``float`` come back as the plain type.  Nested tables and
    arrays are copied, so neither side can change the other's.
    """
    return {
        _name_from_the_wire(key): _from_the_wire(value) for key, value in table.items()
    }


def wire_names(table: Mapping[Any, object]) -> Mapping[Any, object]:
    """Return ``table`` with its names as RabbitMQ reads them, values as given.

    The table itself when every name is a plain ``str`` (the usual case).
    """
    if all(type(key) is str for key in table):
        return table
    return {_name_from_the_wire(key): value for key, value in table.items()}


def _name_from_the_wire(key: object) -> object:
    if type(key) is str:
        return key
    if isinstance(key, str):
        return _text_or_bytes(key.encode("utf-8", "surrogatepass"))
    return _text_or_bytes(bytes(key))  # type: ignore[call-overload]  # bytes-like


def _text_or_bytes(raw: bytes) -> str | bytes:
    # py-amqp reads a long string or a field name as UTF-8 (surrogates
    # allowed) and leaves it bytes when that fails.
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return raw


def _from_the_wire(value: object) -> object:
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    # py-amqp's encoder tries the types in this order.
    if isinstance(value, str | bytes):
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogatepass")
        return _text_or_bytes(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        sign, digits, exponent = value.as_tuple()
        unscaled = int("".join(map(str, digits)) or "0")
        places = -int(exponent)
        return Decimal(-unscaled if sign else unscaled) / Decimal(10**places)
    if isinstance(value, _dt.datetime):
        seconds = calendar.timegm(value.utctimetuple())
        return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC).replace(tzinfo=None)
    if isinstance(value, Mapping):
        return as_from_the_wire(value)
    if isinstance(value, list | tuple):
        return [_from_the_wire(item) for item in value]
    return value  # pragma: no cover - check_properties refuses anything else
