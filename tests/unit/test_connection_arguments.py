"""Connection's arguments: kombu's signature, keywords over the URL, typed errors.

No broker needed: everything here is decided in ``Connection.__init__``
(or, for the clone and credential tests, on a private memory broker).
"""

from __future__ import annotations

import math

import pytest

from kombu_lite import Connection, Queue
from kombu_lite.exceptions import ConfigurationError, InvalidURL, OperationalError
from kombu_lite.transport.memory import Broker, MemoryTransport, default_broker

URL = "amqp://them:their-pw@rabbit:5673/theirs?connect_timeout=3&heartbeat=5&login_method=AMQPLAIN"


# -- kombu's signature ------------------------------------------------------------


def test_kombu_positional_order_is_kept() -> None:
    conn = Connection(
        "amqp://h//",
        "app",  # userid
        "pw",  # password
        "prod",  # virtual_host
        5680,  # port
        False,  # insist
        True,  # ssl
        "amqp",  # transport
        2,  # connect_timeout
        {"frame_max": 4096},  # transport_options
        "AMQPLAIN",  # login_method
        None,  # uri_prefix
        7,  # heartbeat
        "shuffle",  # failover_strategy
        ["amqp://h2//"],  # alternates
        None,  # credential_provider
    )

    assert (conn.userid, conn.password, conn.virtual_host) == ("app", "pw", "prod")
    assert (conn.port, conn.ssl, conn.transport.name) == (5680, True, "amqp")
    assert (conn.connect_timeout, conn.heartbeat) == (2.0, 7.0)
    assert conn.transport_options == {"frame_max": 4096}
    assert conn.login_method == "AMQPLAIN"
    assert conn.failover_strategy == "shuffle"
    assert conn.alt == ["amqp://h//", "amqp://h2//"]


def test_kombu_only_arguments_accept_their_defaults() -> None:
    conn = Connection(
        "memory://", insist=False, uri_prefix=None, credential_provider=None
    )

    assert conn.transport.name == "memory"


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("insist", True, "brokers ignore"),
        ("uri_prefix", "sqla", "SQLAlchemy"),
        ("credential_provider", object(), "Redis"),
    ],
)
def test_kombu_only_arguments_refuse_other_values(
    name: str, value: object, why: str
) -> None:
    with pytest.raises(ConfigurationError, match=name) as info:
        Connection("memory://", **{name: value})

    assert why in str(info.value)


def test_unknown_keyword_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="unknown keyword argument 'colour'"):
        Connection("amqp://", colour="blue")  # type: ignore[arg-type]


def test_misspelt_keyword_suggests_the_right_one() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'connect_timeout'"):
        Connection("amqp://", conect_timeout=3)  # type: ignore[arg-type]


def test_callable_password_is_not_called_at_construction() -> None:
    calls: list[str] = []

    def token() -> str:
        calls.append("called")
        return "tok"

    connection = Connection("amqp://", password=token)

    assert connection.password is token
    assert calls == []
    assert "tok" not in repr(connection)


def test_callable_password_returning_a_non_str_raises_on_use() -> None:
    connection = Connection("amqp://", password=lambda: 42)  # type: ignore[arg-type,return-value]

    with pytest.raises(ConfigurationError, match="must return a str, not int"):
        connection.as_uri(include_password=True)


# -- keywords win over the URL, whatever their value -------------------------------


@pytest.mark.parametrize(
    ("keyword", "value", "attribute", "expected"),
    [
        ("userid", "guest", "userid", "guest"),
        ("password", "guest", "password", "guest"),
        ("virtual_host", "/", "virtual_host", "/"),
        ("port", 5672, "port", 5672),
        ("connect_timeout", 4, "connect_timeout", 4.0),  # the default value
        ("connect_timeout", None, "connect_timeout", None),
        ("heartbeat", 60, "heartbeat", 60.0),  # the default value
        ("heartbeat", 0, "heartbeat", 0.0),
        ("login_method", "PLAIN", "login_method", "PLAIN"),
        ("ssl", True, "ssl", True),
    ],
)
def test_a_keyword_wins_over_the_url(
    keyword: str, value: object, attribute: str, expected: object
) -> None:
    conn = Connection(URL, **{keyword: value})

    assert getattr(conn, attribute) == expected


def test_url_values_are_used_when_no_keyword_is_given() -> None:
    conn = Connection(URL)

    assert (conn.userid, conn.password, conn.virtual_host) == (
        "them",
        "their-pw",
        "theirs",
    )
    assert (conn.port, conn.ssl) == (5673, False)
    assert (conn.connect_timeout, conn.heartbeat, conn.login_method) == (
        3.0,
        5.0,
        "AMQPLAIN",
    )


def test_ssl_false_turns_tls_off_for_an_amqps_url() -> None:
    conn = Connection("amqps://rabbit//", ssl=False)

    assert conn.ssl is False
    assert conn.port == 5672
    assert conn.as_uri() == "amqp://guest:**@rabbit:5672//"


def test_ssl_false_wins_over_ssl_query_options() -> None:
    assert Connection("amqps://rabbit//?ssl_ca_certs=/ca.pem", ssl=False).ssl is False


def test_transport_keyword_wins_over_the_scheme() -> None:
    assert Connection("memory://", transport="amqp").transport.name == "amqp"


def test_keywords_apply_to_every_failover_host() -> None:
    def second_first(urls: list[str]) -> list[str]:
        return list(reversed(urls))

    conn = Connection(
        "memory://a:1@first/?connect_timeout=3;memory://b:2@second/?connect_timeout=3",
        userid="app",
        connect_timeout=4,
        failover_strategy=second_first,
        transport=MemoryTransport(Broker()),
    )

    with conn:
        conn.connect()
        assert (conn.hostname, conn.userid, conn.password) == ("second", "app", "2")
        assert conn.connect_timeout == 4.0


def test_keyword_credentials_log_in_where_the_url_ones_would_be_refused() -> None:
    broker = Broker(users={"app": "s3cret"})
    conn = Connection(
        "memory://wrong:wrong@localhost/",
        userid="app",
        password="s3cret",
        transport=MemoryTransport(broker),
    )

    with conn:
        conn.connect()
        assert conn.connected


# -- typed errors for bad values ---------------------------------------------------


def test_a_decimal_string_port_becomes_an_int() -> None:
    assert Connection("amqp://h//", port="5673").port == 5673  # type: ignore[arg-type]


@pytest.mark.parametrize("port", ["x", "56.7", "", 0, 65536, -1, True, 5672.0, [5672]])
def test_a_bad_port_is_refused(port: object) -> None:
    with pytest.raises(ConfigurationError, match="port must be a number"):
        Connection("amqp://h//", port=port)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"), [(2, 2.0), (0.5, 0.5), ("2.5", 2.5), (None, None)]
)
def test_connect_timeout_accepts_positive_seconds_or_none(
    value: object, expected: float | None
) -> None:
    conn = Connection("amqp://h//", connect_timeout=value)  # type: ignore[arg-type]

    assert conn.connect_timeout == expected


@pytest.mark.parametrize("value", [-1, 0, "x", True, math.nan, math.inf, [1]])
def test_a_bad_connect_timeout_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="connect_timeout must be a number"):
        Connection("amqp://h//", connect_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (10, 10.0), ("10", 10.0)])
def test_heartbeat_accepts_seconds_or_zero(value: object, expected: float) -> None:
    conn = Connection("amqp://h//", heartbeat=value)  # type: ignore[arg-type]

    assert conn.heartbeat == expected


@pytest.mark.parametrize("value", ["x", -1, True, math.nan, math.inf, {}])
def test_a_bad_heartbeat_is_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="heartbeat must be a number"):
        Connection("amqp://h//", heartbeat=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [[1], "frame_max=1", 5])
def test_transport_options_that_are_not_a_mapping_are_refused(options: object) -> None:
    with pytest.raises(ConfigurationError, match="transport_options must be a dict"):
        Connection("amqp://h//", transport_options=options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("userid", 5),
        ("virtual_host", b"/"),
        ("login_method", 1),
        ("login_method", ""),
        ("ssl", "yes"),
        ("ssl", 1),
        ("transport", 5),
    ],
)
def test_other_bad_values_are_refused_by_name(keyword: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=keyword):
        Connection("amqp://h//", **{keyword: value})


def test_a_bad_password_type_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigurationError, match="password must be a str") as info:
        Connection("amqp://h//", password=b"hunter2")  # type: ignore[arg-type]

    assert "hunter2" not in str(info.value)


def test_alternates_given_as_one_string_are_one_list_of_urls() -> None:
    conn = Connection("amqp://h1//", alternates="amqp://h2//;amqp://h3//")  # type: ignore[arg-type]

    assert conn.alt == ["amqp://h1//", "amqp://h2//", "amqp://h3//"]


@pytest.mark.parametrize(
    "query", ["heartbeat=-1", "connect_timeout=0", "connect_timeout=nan"]
)
def test_bad_numbers_in_the_url_query_are_refused(query: str) -> None:
    with pytest.raises(InvalidURL, match="must be a number of seconds"):
        Connection(f"amqp://h/?{query}")


# -- kombu's connect-retry transport options ----------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "connect_retries_timeout",
        "errback",
        "callback",
    ],
)
def test_kombu_retry_transport_options_are_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"'{key}' is not supported") as info:
        Connection("memory://", transport_options={key: 1})

    assert "retry_policy" in str(info.value)
    assert "ensure_connection" in str(info.value)


# -- clone ----------------------------------------------------------------------------


def test_clone_keeps_a_private_memory_broker(unique: str) -> None:
    broker = Broker()
    conn = Connection("memory://", transport=MemoryTransport(broker))

    with conn.clone() as clone:
        Queue(unique).declare(channel=clone)

    assert [q.name for q in broker.queues()] == [unique]
    assert unique not in [q.name for q in default_broker().queues()]


def test_clone_keeps_each_hosts_own_url_parts() -> None:
    conn = Connection("amqp://a:1@h1/v1;amqp://b:2@h2/v2", connect_timeout=None)

    clone = conn.clone()

    assert clone.as_uri(include_password=True) == "amqp://a:1@h1:5672/v1"
    assert clone.alt == conn.alt
    assert clone.connect_timeout is None


def test_clone_with_a_new_url_takes_that_urls_parts() -> None:
    conn = Connection("amqp://a:1@h1/v1")

    clone = conn.clone(hostname="amqp://b:2@h2/v2")

    assert clone.as_uri(include_password=True) == "amqp://b:2@h2:5672/v2"


def test_clone_keeps_keywords_over_the_url() -> None:
    conn = Connection("amqps://h//?heartbeat=5", ssl=False, heartbeat=0, userid="app")

    clone = conn.clone()

    assert (clone.ssl, clone.heartbeat, clone.userid) == (False, 0.0, "app")


# -- where the password shows ---------------------------------------------------------


def test_only_the_attribute_and_include_password_reveal_the_password() -> None:
    conn = Connection("amqp://user:hunter2@rabbit//")

    assert conn.password == "hunter2"
    assert "hunter2" in conn.as_uri(include_password=True)
    for shown in (
        repr(conn),
        str(conn),
        conn.as_uri(),
        str(conn.info()),
        str(conn.alt),
    ):
        assert "hunter2" not in shown
    assert conn.info()["password"] == "**"


def test_info_has_kombus_keys() -> None:
    info = Connection("amqp://h//").info()

    assert set(info) == {
        "hostname",
        "userid",
        "password",
        "virtual_host",
        "port",
        "insist",
        "ssl",
        "transport",
        "connect_timeout",
        "transport_options",
        "login_method",
        "uri_prefix",
        "heartbeat",
        "failover_strategy",
        "alternates",
        "credential_provider",
    }


# -- kombu's Connection extras (issue 13) ---------------------------------------------


def test_switch_refuses_an_empty_target() -> None:
    with pytest.raises(ConfigurationError, match="switch\\(\\) needs a URL"):
        Connection("amqp://h//").switch(" ")


def test_switch_refuses_another_transport() -> None:
    with pytest.raises(ConfigurationError, match="make a new Connection"):
        Connection("amqp://h//").switch("memory://")


def test_retry_keys_set_the_default_retry_policy() -> None:
    connection = Connection(
        "memory://", transport_options={"max_retries": 7, "interval_max": 3}
    )

    assert connection.default_retry_policy.max_retries == 7
    assert connection.default_retry_policy.interval_max == 3
    assert connection.default_retry_policy.interval_start == 0


def test_a_bad_retry_key_value_raises_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        Connection("memory://", transport_options={"max_retries": -1})


def test_ssl_none_keeps_tls_for_amqps() -> None:
    assert Connection("amqps://h//", ssl=None).ssl is True


def test_transport_cls_of_a_transport_instance_is_its_class() -> None:
    transport = Connection("memory://").transport

    assert Connection("memory://", transport=transport).transport_cls is type(transport)


def test_publish_retry_follows_the_transport_options_retry_keys() -> None:
    broker = Broker()
    conn = Connection(
        "memory://",
        transport=MemoryTransport(broker),
        transport_options={"max_retries": 1, "interval_max": 0},
    )
    retries: list[float] = []
    with conn:
        producer = conn.Producer()
        conn.connect()
        broker.stop()
        with pytest.raises(OperationalError):
            producer.publish(
                {"n": 1},
                routing_key="nowhere",
                retry=True,
                retry_policy={
                    "errback": lambda exc, interval: retries.append(interval)
                },
            )

    assert retries == [0]  # one retry (the default policy would make three)


def test_ensure_connection_follows_the_transport_options_retry_keys() -> None:
    broker = Broker()
    broker.stop()
    conn = Connection(
        "memory://",
        transport=MemoryTransport(broker),
        transport_options={"max_retries": 2, "interval_start": 0, "interval_max": 0},
    )
    retries: list[float] = []

    with pytest.raises(OperationalError):
        conn.ensure_connection(errback=lambda exc, interval: retries.append(interval))

    assert retries == [0, 0]
