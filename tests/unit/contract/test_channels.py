"""The topology names are DESIGN §5's, derived from one prefix."""

from __future__ import annotations

import pytest

from safepoint.contract.channels import Topology


def test_default_names_are_those_of_the_design() -> None:
    topology = Topology()

    assert [(e.name, e.kind) for e in topology.exchanges] == [
        ("safepoint.jobs", "direct"),
        ("safepoint.commands", "direct"),
        ("safepoint.external", "topic"),
        ("safepoint.events", "topic"),
        ("safepoint.dlx", "direct"),
    ]
    assert [(q.name, q.exchange, q.routing_key) for q in topology.queues] == [
        ("safepoint.jobs.dlq", "safepoint.dlx", "safepoint.jobs.dlq"),
        ("safepoint.commands.dlq", "safepoint.dlx", "safepoint.commands.dlq"),
        ("safepoint.external.dlq", "safepoint.dlx", "safepoint.external.dlq"),
        ("safepoint.jobs", "safepoint.jobs", "safepoint.jobs"),
        ("safepoint.commands", "safepoint.commands", "safepoint.commands"),
    ]
    send = topology.external_topic_queue("send")
    assert (send.name, send.exchange, send.routing_key) == (
        "safepoint.external.send",
        "safepoint.external",
        "send",
    )


def test_work_queues_are_quorum_queues_with_a_delivery_limit_and_at_least_once_dead_letters() -> (
    None
):
    topology = Topology()

    assert topology.work_queue_arguments("safepoint.jobs") == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "safepoint.dlx",
        "x-dead-letter-routing-key": "safepoint.jobs.dlq",
        "x-delivery-limit": 20,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert topology.external_topic_queue("send").arguments["x-dead-letter-routing-key"] == (
        "safepoint.external.dlq"
    )
    assert all(q.arguments == {"x-queue-type": "quorum"} for q in topology.dead_letter_queues)


def test_a_prefix_isolates_every_name() -> None:
    topology = Topology(prefix="test1234", delivery_limit=3)

    names = [e.name for e in topology.exchanges] + [q.name for q in topology.queues]
    assert all(name.startswith("test1234.") for name in names)
    assert topology.dead_letter_queue(topology.external_queue("a.b")) == "test1234.external.dlq"
    assert topology.work_queue_arguments(topology.jobs_queue)["x-delivery-limit"] == 3


def test_only_events_and_replies_may_go_unrouted() -> None:
    topology = Topology()

    assert topology.must_route(topology.jobs_exchange)
    assert topology.must_route(topology.commands_exchange)
    assert topology.must_route(topology.external_exchange)
    assert topology.must_route(topology.dead_letter_exchange)
    assert not topology.must_route(topology.events_exchange)
    assert not topology.must_route("")


@pytest.mark.parametrize("topic", ["", "a.*", "#", "x" * 300])
def test_topics_that_cannot_be_matched_exactly_are_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        Topology().external_queue(topic)


@pytest.mark.parametrize(("prefix", "limit"), [("", 20), ("a#", 20), ("ok", 0)])
def test_invalid_topologies_are_refused(prefix: str, limit: int) -> None:
    with pytest.raises(ValueError):
        Topology(prefix=prefix, delivery_limit=limit)
