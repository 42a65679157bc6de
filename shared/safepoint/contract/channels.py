"""The names of Safepoint's RabbitMQ topology, and the arguments of its queues (DESIGN §5).

Names are the contract: every service, worker and operator uses these, so they come
from here and nowhere else. :class:`Topology` derives them from one prefix
(``safepoint`` unless a test isolates itself with another); ``safepoint.messaging``
declares them, ``safepoint.contract.export`` documents them.

=======================  ======  =========================  ============================
exchange                 type    queue (routing key)        dead letters go to
=======================  ======  =========================  ============================
``safepoint.jobs``       direct  ``safepoint.jobs``         ``safepoint.jobs.dlq``
``safepoint.commands``   direct  ``safepoint.commands``     ``safepoint.commands.dlq``
``safepoint.external``   topic   ``safepoint.external.<t>``  ``safepoint.external.dlq``
                                 (``<t>``, the topic)
``safepoint.events``     topic   declared by listeners
``safepoint.dlx``        direct  ``<queue>.dlq`` (same)
=======================  ======  =========================  ============================

Work queues are quorum queues with a delivery limit (the poison guard: a message
redelivered that often is dead-lettered) and at-least-once dead-lettering, which needs
``x-overflow: reject-publish``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_PREFIX = "safepoint"
DEFAULT_DELIVERY_LIMIT = 20
"""Deliveries after which a work queue dead-letters a message no consumer could settle."""

ExchangeKind = Literal["direct", "topic"]
QueueArguments = Mapping[str, str | int]

_WILDCARDS = frozenset("*#")
_MAX_NAME_BYTES = 255


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    """An exchange: durable, never auto-deleted."""

    name: str
    kind: ExchangeKind


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A durable queue with its arguments, bound to ``exchange`` with ``routing_key``."""

    name: str
    exchange: str
    routing_key: str
    arguments: QueueArguments = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Topology:
    """Every exchange, queue and routing key name, derived from ``prefix``.

    Args:
        prefix: the first word of every name; ``safepoint`` in production.
        delivery_limit: the work queues' ``x-delivery-limit``.
    """

    prefix: str = DEFAULT_PREFIX
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

    def __post_init__(self) -> None:
        if not self.prefix or _WILDCARDS & set(self.prefix):
            raise ValueError(f"invalid topology prefix {self.prefix!r}")
        if self.delivery_limit < 1:
            raise ValueError(f"delivery_limit must be at least 1, not {self.delivery_limit}")

    # -- exchanges ---------------------------------------------------------------------

    @property
    def jobs_exchange(self) -> str:
        """Direct exchange for job messages."""
        return f"{self.prefix}.jobs"

    @property
    def commands_exchange(self) -> str:
        """Direct exchange for commands from any language."""
        return f"{self.prefix}.commands"

    @property
    def external_exchange(self) -> str:
        """Topic exchange for external tasks; the routing key is the task's topic."""
        return f"{self.prefix}.external"

    @property
    def events_exchange(self) -> str:
        """Topic exchange for events (``process.started``, ...)."""
        return f"{self.prefix}.events"

    @property
    def dead_letter_exchange(self) -> str:
        """Direct exchange every dead letter goes through, routed by ``<queue>.dlq``."""
        return f"{self.prefix}.dlx"

    # -- queues and routing keys -------------------------------------------------------

    @property
    def jobs_queue(self) -> str:
        """The queue job-executors consume."""
        return f"{self.prefix}.jobs"

    @property
    def jobs_routing_key(self) -> str:
        """The routing key of job messages (the jobs queue's name)."""
        return self.jobs_queue

    @property
    def commands_queue(self) -> str:
        """The queue the engine consumes commands from."""
        return f"{self.prefix}.commands"

    @property
    def commands_routing_key(self) -> str:
        """The routing key of commands (the commands queue's name)."""
        return self.commands_queue

    @property
    def external_queue_prefix(self) -> str:
        """What every external topic queue's name starts with."""
        return f"{self.prefix}.external."

    def external_queue(self, topic: str) -> str:
        """The queue of the external tasks of ``topic``: ``<prefix>.external.<topic>``.

        Raises:
            ValueError: ``topic`` is empty, holds a wildcard (``*``, ``#``) or is too long.
        """
        check_topic(topic)
        name = f"{self.external_queue_prefix}{topic}"
        if len(name.encode()) > _MAX_NAME_BYTES:
            raise ValueError(f"topic {topic!r} is too long for a queue name")
        return name

    def dead_letter_queue(self, queue: str) -> str:
        """Where ``queue`` dead-letters; also the routing key on the dead-letter exchange.

        ``<queue>.dlq``, except that every external topic queue shares
        ``<prefix>.external.dlq``.
        """
        if queue.startswith(self.external_queue_prefix):
            return f"{self.prefix}.external.dlq"
        return f"{queue}.dlq"

    # -- what to declare ---------------------------------------------------------------

    def work_queue_arguments(self, queue: str) -> dict[str, str | int]:
        """The arguments of a work queue: quorum, delivery limit, at-least-once DLX."""
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.dead_letter_queue(queue),
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    @property
    def exchanges(self) -> tuple[ExchangeSpec, ...]:
        """Every exchange, in the order to declare them."""
        return (
            ExchangeSpec(self.jobs_exchange, "direct"),
            ExchangeSpec(self.commands_exchange, "direct"),
            ExchangeSpec(self.external_exchange, "topic"),
            ExchangeSpec(self.events_exchange, "topic"),
            ExchangeSpec(self.dead_letter_exchange, "direct"),
        )

    @property
    def dead_letter_queues(self) -> tuple[QueueSpec, ...]:
        """The dead-letter queues (quorum, no further dead-lettering)."""
        names = (
            self.dead_letter_queue(self.jobs_queue),
            self.dead_letter_queue(self.commands_queue),
            self.dead_letter_queue(self.external_queue_prefix),
        )
        return tuple(
            QueueSpec(name, self.dead_letter_exchange, name, {"x-queue-type": "quorum"})
            for name in names
        )

    @property
    def work_queues(self) -> tuple[QueueSpec, ...]:
        """The jobs and commands queues."""
        return (
            QueueSpec(
                self.jobs_queue,
                self.jobs_exchange,
                self.jobs_routing_key,
                self.work_queue_arguments(self.jobs_queue),
            ),
            QueueSpec(
                self.commands_queue,
                self.commands_exchange,
                self.commands_routing_key,
                self.work_queue_arguments(self.commands_queue),
            ),
        )

    @property
    def queues(self) -> tuple[QueueSpec, ...]:
        """Every queue declared at start-up: dead-letter queues first, then work queues."""
        return self.dead_letter_queues + self.work_queues

    def external_topic_queue(self, topic: str) -> QueueSpec:
        """The queue of an external topic, bound to the external exchange by the topic."""
        name = self.external_queue(topic)
        return QueueSpec(name, self.external_exchange, topic, self.work_queue_arguments(name))

    def must_route(self, exchange: str) -> bool:
        """Whether a message published to ``exchange`` must reach a queue (``mandatory``).

        Jobs, commands, external tasks and dead letters must; an event nobody listens
        to, or a reply whose asker has gone, may be dropped.
        """
        return exchange in (
            self.jobs_exchange,
            self.commands_exchange,
            self.external_exchange,
            self.dead_letter_exchange,
        )


def check_topic(topic: str) -> None:
    """Refuse a topic that cannot be a routing key matched exactly.

    Raises:
        ValueError: ``topic`` is empty, holds ``*`` or ``#`` (topic-exchange wildcards)
            or is longer than 255 bytes.
    """
    if not topic:
        raise ValueError("an external task topic must not be empty")
    if _WILDCARDS & set(topic):
        raise ValueError(f"external task topic {topic!r} must not contain '*' or '#'")
    if len(topic.encode()) > _MAX_NAME_BYTES:
        raise ValueError(f"external task topic {topic!r} is longer than 255 bytes")
