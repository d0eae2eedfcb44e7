"""TLS options: the files they name are checked, and a bad one is named.

A missing or unusable ``ca_certs``, ``certfile`` or ``keyfile`` raises
ConfigurationError naming the option and the path, before any network I/O.
The certificates come from a throw-away CA made by trustme.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from kombu_lite import Connection
from kombu_lite.exceptions import ConfigurationError
from kombu_lite.transport._tls import build_ssl_context

trustme = pytest.importorskip("trustme", reason="trustme is in the 'dev' extra")

PASSWORD = "tls-secret-pw"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def cert_and_key(ca: trustme.CA, tmp_path: Path) -> tuple[str, str]:
    leaf = ca.issue_cert("client.example")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


@pytest.fixture
def garbage(tmp_path: Path) -> str:
    path = tmp_path / "garbage.pem"
    path.write_text("not a certificate\n")
    return str(path)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anyone connected."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def nobody_connected(server: socket.socket) -> bool:
    try:
        client, _ = server.accept()
    except BlockingIOError:
        return True
    client.close()
    return False


# -- the files load ----------------------------------------------------------------


def test_ca_certs_is_loaded_into_the_context(ca_file: str) -> None:
    context, _ = build_ssl_context({"ca_certs": ca_file}, "h")

    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1


def test_certfile_and_keyfile_load_together(
    ca_file: str, cert_and_key: tuple[str, str]
) -> None:
    cert, key = cert_and_key

    context, _ = build_ssl_context(
        {"ca_certs": ca_file, "certfile": cert, "keyfile": key}, "h"
    )

    assert context.verify_mode == ssl.CERT_REQUIRED


def test_a_certfile_holding_its_key_needs_no_keyfile(
    ca: trustme.CA, tmp_path: Path
) -> None:
    both = tmp_path / "both.pem"
    ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(
        str(both)
    )

    context, _ = build_ssl_context({"certfile": str(both)}, "h")

    assert context.check_hostname


# -- a missing or bad file is named ------------------------------------------------


def test_a_missing_ca_certs_file_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nonexist.pem")

    with pytest.raises(ConfigurationError) as info:
        build_ssl_context({"ca_certs": missing}, "h")

    assert str(info.value) == (
        f"ssl option 'ca_certs': cannot read {missing!r}: No such file or directory"
    )


def test_a_ca_certs_file_without_a_certificate_is_named(garbage: str) -> None:
    with pytest.raises(
        ConfigurationError,
        match=(
            rf"^ssl option 'ca_certs': '{re.escape(garbage)}' holds no usable PEM "
            r"certificate \(NO_CERTIFICATE_OR_CRL_FOUND\)$"
        ),
    ):
        build_ssl_context({"ca_certs": garbage}, "h")


def test_a_directory_is_not_a_ca_certs_file(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"^ssl option 'ca_certs': cannot read .*directory"
    ):
        build_ssl_context({"ca_certs": str(tmp_path)}, "h")


def test_a_missing_certfile_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")

    with pytest.raises(
        ConfigurationError,
        match=rf"^ssl option 'certfile': cannot read '{re.escape(missing)}': No such",
    ):
        build_ssl_context({"certfile": missing}, "h")


def test_a_missing_keyfile_is_named(
    cert_and_key: tuple[str, str], tmp_path: Path
) -> None:
    cert, _ = cert_and_key
    missing = str(tmp_path / "missing.key")

    with pytest.raises(
        ConfigurationError,
        match=rf"^ssl option 'keyfile': cannot read '{re.escape(missing)}': No such",
    ):
        build_ssl_context({"certfile": cert, "keyfile": missing}, "h")


def test_a_certfile_without_a_certificate_is_named(garbage: str) -> None:
    with pytest.raises(
        ConfigurationError,
        match=(
            rf"^ssl option 'certfile': '{re.escape(garbage)}' holds no usable PEM "
            r"certificate and private key \(.+\)$"
        ),
    ):
        build_ssl_context({"certfile": garbage}, "h")


def test_a_key_that_does_not_match_the_certificate_is_named(
    ca: trustme.CA, cert_and_key: tuple[str, str], tmp_path: Path
) -> None:
    cert, _ = cert_and_key
    other_key = tmp_path / "other.key"
    ca.issue_cert("other.example").private_key_pem.write_to_path(str(other_key))

    with pytest.raises(
        ConfigurationError,
        match=(
            rf"^ssl options 'certfile' and 'keyfile': '{re.escape(cert)}' and "
            rf"'{re.escape(str(other_key))}' "
            r"hold no matching PEM certificate and private key"
        ),
    ):
        build_ssl_context({"certfile": cert, "keyfile": str(other_key)}, "h")


def test_a_keyfile_without_a_certfile_is_refused(
    cert_and_key: tuple[str, str],
) -> None:
    _, key = cert_and_key

    with pytest.raises(ConfigurationError, match="'keyfile' needs 'certfile'"):
        build_ssl_context({"keyfile": key}, "h")


# -- through Connection: before any network I/O --------------------------------------


def test_a_missing_file_in_the_url_fails_connect_before_any_io(
    listener: socket.socket, tmp_path: Path
) -> None:
    port = listener.getsockname()[1]
    missing = str(tmp_path / "nonexist.pem")
    conn = Connection(
        f"amqps://guest:{PASSWORD}@127.0.0.1:{port}//?ssl_ca_certs={missing}"
    )

    with pytest.raises(ConfigurationError) as info:
        conn.connect()

    assert str(info.value).startswith(f"ssl option 'ca_certs': cannot read {missing!r}")
    assert PASSWORD not in str(info.value)
    assert nobody_connected(listener)
    assert not conn.connected


def test_a_bad_file_in_the_ssl_dict_fails_connect_before_any_io(
    listener: socket.socket, garbage: str
) -> None:
    port = listener.getsockname()[1]
    conn = Connection(
        f"amqp://guest:{PASSWORD}@127.0.0.1:{port}//", ssl={"ca_certs": garbage}
    )

    with pytest.raises(ConfigurationError, match=r"'ca_certs'.*no usable PEM"):
        conn.connect()

    assert nobody_connected(listener)
