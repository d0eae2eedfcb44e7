"""amqps:// against a TLS listener on loopback, with a local CA (trustme).

The listener is the fault proxy terminating TLS in front of RabbitMQ's plain
port, so the client side is real TLS end to end.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from kombu_lite import Connection, Exchange, Queue
from kombu_lite.exceptions import OperationalError

from .proxy import FaultProxy

trustme = pytest.importorskip("trustme", reason="trustme is in the 'dev' extra")

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _listener(ca: trustme.CA, *names: str) -> FaultProxy:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return FaultProxy(tls=context)


@pytest.fixture
def tls_proxy(rabbitmq: str, ca: trustme.CA) -> Iterator[FaultProxy]:
    del rabbitmq
    with _listener(ca, "localhost", "127.0.0.1") as proxy:
        yield proxy


def _url(proxy: FaultProxy, host: str = "localhost") -> str:
    return f"amqps://guest:guest@{host}:{proxy.port}//"


def _round_trip(conn: Connection, unique: str) -> bytes:
    queue = Queue(f"{unique}-tls", Exchange(""), routing_key=f"{unique}-tls")
    channel = conn.default_channel
    queue.declare(channel=channel)
    try:
        conn.Producer().publish(b"over tls", routing_key=queue.name, serializer="raw")
        message = queue(channel).get(no_ack=True, accept=["application/data"])
        assert message is not None
        return message.body
    finally:
        queue(channel).delete()


def test_the_right_name_and_ca_pass(
    tls_proxy: FaultProxy, ca_file: str, unique: str
) -> None:
    with Connection(_url(tls_proxy), ssl={"ca_certs": ca_file}, heartbeat=0) as conn:
        assert _round_trip(conn, unique) == b"over tls"


def test_an_ssl_context_is_used_as_given(
    tls_proxy: FaultProxy, ca_file: str, unique: str
) -> None:
    context = ssl.create_default_context(cafile=ca_file)

    with Connection(_url(tls_proxy), ssl=context, heartbeat=0) as conn:
        assert _round_trip(conn, unique) == b"over tls"


def test_a_wrong_host_name_fails(rabbitmq: str, ca: trustme.CA, ca_file: str) -> None:
    del rabbitmq
    with _listener(ca, "rabbit.example") as proxy:
        conn = Connection(_url(proxy), ssl={"ca_certs": ca_file}, connect_timeout=3)
        with pytest.raises(OperationalError, match=r"(?i)hostname|certificate"):
            conn.connect()


def test_an_unknown_ca_fails(tls_proxy: FaultProxy, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    conn = Connection(_url(tls_proxy), ssl={"ca_certs": str(other)}, connect_timeout=3)

    with pytest.raises(OperationalError, match=r"(?i)certificate"):
        conn.connect()


def test_amqps_without_options_checks_the_system_cas(tls_proxy: FaultProxy) -> None:
    # Our local CA is not a system CA: the default must refuse it.
    conn = Connection(_url(tls_proxy), connect_timeout=3)

    with pytest.raises(OperationalError, match=r"(?i)certificate"):
        conn.connect()
