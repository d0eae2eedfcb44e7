"""Connection settings: URLs, keyword overrides, masking; no broker needed."""

from __future__ import annotations

import pickle
import ssl

import pytest

from kombu_lite import Connection
from kombu_lite.exceptions import (
    ConfigurationError,
    InvalidURL,
    KombuError,
    OperationalError,
    UnknownTransport,
)
from kombu_lite.transport.memory import default_broker


def test_bare_amqp_means_guest_on_localhost() -> None:
    conn = Connection("amqp://")

    assert (conn.hostname, conn.port) == ("localhost", 5672)
    assert (conn.userid, conn.password, conn.virtual_host) == ("guest", "guest", "/")
    assert conn.transport.name == "amqp"


def test_default_hostname_is_amqp() -> None:
    assert Connection().as_uri() == "amqp://guest:**@localhost:5672//"


def test_url_parts_are_used() -> None:
    conn = Connection("amqp://user:pa%40ss@rabbit:5673/prod")

    assert (conn.hostname, conn.port) == ("rabbit", 5673)
    assert (conn.userid, conn.password, conn.virtual_host) == ("user", "pa@ss", "prod")


def test_keyword_arguments_win_over_the_url() -> None:
    conn = Connection(
        "amqp://user:pw@rabbit:5673/prod",
        userid="other",
        password="secret",
        virtual_host="/",
        port=5680,
        connect_timeout=9,
        heartbeat=10,
        login_method="AMQPLAIN",
    )

    assert (conn.userid, conn.password, conn.virtual_host) == ("other", "secret", "/")
    assert conn.port == 5680
    assert (conn.connect_timeout, conn.heartbeat, conn.login_method) == (
        9.0,
        10.0,
        "AMQPLAIN",
    )


def test_url_query_options_are_used_when_no_keyword_is_given() -> None:
    conn = Connection("amqp://h/?connect_timeout=2&heartbeat=5&login_method=PLAIN")

    assert (conn.connect_timeout, conn.heartbeat, conn.login_method) == (
        2.0,
        5.0,
        "PLAIN",
    )


def test_amqps_defaults_to_tls_on_5671() -> None:
    conn = Connection("amqps://rabbit//")

    assert conn.port == 5671
    assert conn.ssl is True
    assert conn.as_uri().startswith("amqps://guest:**@rabbit:5671/")


def test_ssl_query_options_become_a_dict() -> None:
    conn = Connection(
        "amqps://h//?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem&ssl_check_hostname=no"
    )

    assert conn.ssl == {
        "cert_reqs": ssl.CERT_REQUIRED,
        "ca_certs": "/ca.pem",
        "check_hostname": False,
    }


def test_bad_ssl_cert_reqs_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ssl_cert_reqs"):
        Connection("amqps://h//?ssl_cert_reqs=maybe")


def test_pyamqp_scheme_is_the_amqp_transport() -> None:
    assert Connection("pyamqp://h//").transport.name == "amqp"


def test_bare_host_name_is_accepted() -> None:
    conn = Connection("rabbit.internal")

    assert (conn.hostname, conn.transport.name) == ("rabbit.internal", "amqp")


def test_memory_url() -> None:
    conn = Connection("memory://")

    assert conn.transport.name == "memory"
    assert conn.as_uri() == "memory://"


def test_transport_keyword_overrides_the_scheme() -> None:
    assert Connection("amqp://h//", transport="memory").transport.name == "memory"


def test_unknown_transport_is_a_value_error() -> None:
    with pytest.raises(UnknownTransport, match="redis") as info:
        Connection("redis://h//")

    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KombuError)


@pytest.mark.parametrize("password", ["p#ss", "p?ss", "p/ss", "p@ss#x"])
def test_malformed_url_error_never_shows_the_password(password: str) -> None:
    with pytest.raises(ValueError, match="invalid broker URL") as info:
        Connection(f"amqp://user:{password}@host:5672//")

    assert password not in str(info.value)
    assert isinstance(info.value, InvalidURL)


def test_repr_and_as_uri_mask_the_password() -> None:
    conn = Connection("amqp://user:hunter2@rabbit//")

    assert "hunter2" not in repr(conn)
    assert "hunter2" not in conn.as_uri()
    assert "hunter2" not in str(conn.info())
    assert conn.as_uri(include_password=True) == "amqp://user:hunter2@rabbit:5672//"


def test_failover_list_is_parsed_and_masked() -> None:
    conn = Connection("amqp://u:s1@h1//;amqp://u:s2@h2//", alternates=["amqp://h3//"])

    assert conn.hostname == "h1"
    assert conn.alt == ["amqp://u:**@h1//", "amqp://u:**@h2//", "amqp://h3//"]
    assert "s2" not in repr(conn.alt)


def test_hostname_list_is_a_failover_list() -> None:
    conn = Connection(["amqp://h1//", "amqp://h2//"])

    assert [url.split("//")[1].strip("/") for url in conn.alt] == ["h1", "h2"]


def test_hostname_list_items_must_be_strings() -> None:
    with pytest.raises(ConfigurationError):
        Connection(["amqp://h1//", 5])  # type: ignore[list-item]


def test_empty_hostname_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        Connection(";")


def test_unknown_transport_option_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="visibility_timeout"):
        Connection("amqp://", transport_options={"visibility_timeout": 3})


def test_bad_failover_strategy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="failover_strategy"):
        Connection("amqp://", failover_strategy="random")


def test_transport_options_are_copied_not_shared() -> None:
    options: dict[str, object] = {}
    conn = Connection("memory://", transport_options=options)
    conn.transport_options["x"] = 1

    assert options == {}


def test_clone_keeps_the_settings_but_not_the_connection() -> None:
    conn = Connection("amqp://user:pw@rabbit:5673/prod", heartbeat=5)

    clone = conn.clone(virtual_host="other")

    assert clone is not conn
    assert clone.as_uri(include_password=True) == "amqp://user:pw@rabbit:5673/other"
    assert clone.heartbeat == 5.0


def test_clone_of_memory_stays_memory() -> None:
    assert Connection("memory://").clone().transport.name == "memory"


def test_error_tuples() -> None:
    conn = Connection("memory://")

    assert all(issubclass(cls, KombuError) for cls in conn.connection_errors)
    assert all(issubclass(cls, KombuError) for cls in conn.channel_errors)


def test_host_property() -> None:
    assert Connection("amqp://rabbit:5673//").host == "rabbit:5673"


def test_exceptions_pickle_with_their_attributes() -> None:
    from kombu_lite.exceptions import (
        NotFound,
        OperationalError,
        PublishError,
        PublishInterrupted,
    )
    from kombu_lite.messaging import PublishOutcome

    for exc in (
        NotFound("no queue 'q'", reply_code=404, reply_text="NOT_FOUND", method="x"),
        OperationalError("down", reply_code=320, reply_text="forced"),
        PublishError("nacked", delivery_tag=7),
        PublishInterrupted(
            "stopped", outcomes=[PublishOutcome(0, 1), PublishOutcome(1, 0)]
        ),
    ):
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc)
        assert str(copy) == str(exc)
        assert copy.__dict__ == exc.__dict__


# -- blocked connections, confirms and failover settings ---------------------------


def test_blocked_settings_come_from_the_transport_options() -> None:
    def on_blocked(reason: str) -> None:
        del reason

    conn = Connection(
        "memory://",
        transport_options={"on_blocked": on_blocked, "blocked_connection_timeout": 5},
    )

    assert conn.on_blocked is on_blocked
    assert conn.on_unblocked is None
    assert conn.blocked_connection_timeout == 5.0


def test_a_blocked_callback_argument_wins_over_the_transport_option() -> None:
    def mine() -> None:
        pass

    def theirs() -> None:
        pass

    conn = Connection(
        "memory://", on_unblocked=mine, transport_options={"on_unblocked": theirs}
    )

    assert conn.on_unblocked is mine


@pytest.mark.parametrize("given", [5, 60, None])
def test_a_blocked_timeout_argument_wins_over_the_transport_option(
    given: float | None,
) -> None:
    # 60 is the default: passing it must still beat the option.
    conn = Connection(
        "memory://",
        blocked_connection_timeout=given,
        transport_options={"blocked_connection_timeout": 10},
    )

    assert conn.blocked_connection_timeout == given


def test_the_blocked_timeout_defaults_to_60_seconds() -> None:
    assert Connection("memory://").blocked_connection_timeout == 60.0


def test_a_blocked_callback_option_that_is_not_callable_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'on_blocked' must be callable"):
        Connection("memory://", transport_options={"on_blocked": "log it"})


@pytest.mark.parametrize("timeout", [0, -1, True, "60"])
def test_a_blocked_timeout_that_is_not_positive_seconds_is_refused(
    timeout: object,
) -> None:
    with pytest.raises(ConfigurationError, match="blocked_connection_timeout"):
        Connection("memory://", blocked_connection_timeout=timeout)  # type: ignore[arg-type]


def test_no_blocked_timeout_means_waiting_as_long_as_it_takes() -> None:
    conn = Connection("memory://", blocked_connection_timeout=None)

    assert conn.blocked_connection_timeout is None
    assert conn.clone().blocked_connection_timeout is None


def test_a_confirm_timeout_option_must_be_positive_seconds() -> None:
    with pytest.raises(ConfigurationError, match="confirm_timeout"):
        Connection("memory://", transport_options={"confirm_timeout": 0})


def test_a_failover_callable_chooses_the_order_of_the_hosts() -> None:
    def last_first(urls: list[str]) -> list[str]:
        return list(reversed(urls))

    conn = Connection("memory://first/;memory://second/", failover_strategy=last_first)

    with conn:
        conn.connect()
        assert conn.hostname == "second"


def test_shuffle_starts_with_the_current_host() -> None:
    conn = Connection(
        "memory://first/;memory://second/;memory://third/",
        failover_strategy="shuffle",
    )

    with conn:
        conn.connect()
        assert conn.hostname == "first"


def test_each_connect_retry_moves_to_the_next_host() -> None:
    conn = Connection("memory://first/;memory://second/;memory://third/")
    failed_on: list[str] = []
    default_broker().stop()
    try:
        with pytest.raises(OperationalError):
            conn.ensure_connection(
                errback=lambda exc, interval: failed_on.append(conn.hostname),
                max_retries=2,
                interval_start=0,
                interval_step=0,
            )
    finally:
        default_broker().start()

    assert failed_on == ["first", "second"]
    assert conn.hostname == "third"
