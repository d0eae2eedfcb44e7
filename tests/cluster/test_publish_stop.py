"""Publishing to a quorum queue while the producer's node stops.

The producer connects with a failover list kl1;kl2;kl3 and declares the
queue through kl1, so kl1 is both the producer's node and the queue's
leader; kl1 is stopped (``stop_app``) under load and started again.  The
queue is read afterwards through another node.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from kombu_lite import Connection
from kombu_lite.exceptions import OperationalError

from .harness import (
    Progress,
    Record,
    failover_url,
    load_thread,
    quorum_queue,
    report,
    stop_under_load,
    take_all,
)
from .nodes import PrivateNode

pytestmark = [pytest.mark.broker, pytest.mark.cluster]

ACCEPT = ["application/data"]


def test_retried_confirmed_publishes_survive_the_stop_of_the_producers_node(
    cluster: list[PrivateNode], queue_name: str, record_property: Record
) -> None:
    kl1, kl2, _ = cluster
    queue = quorum_queue(queue_name)
    published: list[str] = []
    retries: list[BaseException] = []

    def publish(progress: Progress, finish: threading.Event) -> None:
        def errback(exc: BaseException, interval: float) -> None:
            retries.append(exc)
            progress.failed()

        policy: dict[str, Any] = {
            "max_retries": None,
            "interval_start": 0,
            "interval_step": 0.1,
            "interval_max": 0.5,
            "timeout": 20,
            "errback": errback,
        }
        with Connection(failover_url(cluster), confirm_publish=True) as conn:
            producer = conn.Producer()
            number = 0
            while not finish.is_set():
                message_id = f"{queue_name}-{number}"
                producer.publish(
                    str(number).encode(),
                    serializer="raw",
                    routing_key=queue_name,
                    declare=[queue],
                    message_id=message_id,
                    retry=True,
                    retry_policy=policy,
                )
                # publish() returned: the broker confirmed the message.
                published.append(message_id)
                progress.succeeded()
                number += 1

    with load_thread(publish, "publisher") as (progress, _finish):
        stop_under_load(kl1, progress, before=300, during=300, after=200)

    taken = take_all(kl2, queue_name, ACCEPT)
    ids = [message.properties.get("message_id") for message in taken]
    counts = Counter(ids)
    lost = set(published) - set(counts)
    duplicates = sum(count - 1 for count in counts.values())
    report(
        record_property,
        messages=len(published),
        stops=1,
        retries=len(retries),
        lost=len(lost),
        duplicates=duplicates,
        resume_seconds=progress.resume_seconds,
    )
    assert retries, "the stop of kl1 was never noticed by the producer"
    assert not lost
    # A duplicate is a resend of the same message: same id, same body.
    for message in taken:
        assert (
            message.properties["message_id"] == f"{queue_name}-{message.body.decode()}"
        )
    # Each publish() returned before the next began: nothing else was sent.
    assert set(counts) == set(published)


def test_publish_many_reports_every_message_it_cannot_vouch_for_across_a_stop(
    cluster: list[PrivateNode], queue_name: str, record_property: Record
) -> None:
    kl1, kl2, _ = cluster
    queue = quorum_queue(queue_name)
    confirmed: list[int] = []
    failed: list[int] = []
    batches: list[int] = []

    def publish(progress: Progress, finish: threading.Event) -> None:
        with Connection(failover_url(cluster)) as conn:
            producer = conn.Producer()
            first = 0
            while not finish.is_set():
                numbers = range(first, first + 100)
                first += 100
                bodies = [str(number).encode() for number in numbers]
                try:
                    outcomes = producer.publish_many(
                        bodies,
                        serializer="raw",
                        routing_key=queue_name,
                        declare=[queue],
                        window=50,
                    )
                except OperationalError:
                    # Nothing of this batch was sent: reported failed.
                    failed.extend(numbers)
                    progress.failed()
                    finish.wait(0.1)
                    continue
                batches.append(len(outcomes))
                assert [outcome.index for outcome in outcomes] == list(range(100))
                ok = [numbers[o.index] for o in outcomes if o.ok]
                not_ok = [numbers[o.index] for o in outcomes if not o.ok]
                confirmed.extend(ok)
                failed.extend(not_ok)
                if not_ok:
                    progress.failed()
                if ok:
                    progress.succeeded(len(ok))
                finish.wait(0.05)  # paced: enough traffic, a queue kept small

    with load_thread(publish, "publisher") as (progress, _finish):
        stop_under_load(kl1, progress, before=300, during=300, after=200)

    taken = take_all(kl2, queue_name, ACCEPT)
    present = Counter(int(message.body) for message in taken)
    missing = [number for number in confirmed if number not in present]
    report(
        record_property,
        messages=len(confirmed) + len(failed),
        stops=1,
        confirmed=len(confirmed),
        reported_failed=len(failed),
        failed_but_present=sum(1 for number in failed if number in present),
        lost=len(missing),
        duplicates=sum(count - 1 for count in present.values()),
        resume_seconds=progress.resume_seconds,
    )
    assert failed, "the stop of kl1 cut no batch: nothing was reported failed"
    assert not missing, f"confirmed but not in the queue: {missing[:10]}"
    assert set(present) <= set(confirmed) | set(failed)
