"""What the engine adds to metrics and traces from its database.

- :func:`count_open_incidents`: the ``safepoint_incidents_open`` gauge's count;
- :func:`link_to_waiting_instance`: a message correlated later (a new HTTP request or
  command message) keeps its own trace; its span gets a link to the trace of the
  instance it continues: the trace of the command that started the instance, stored
  on its row.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from safepoint import tracing
from safepoint.persistence import tables
from safepoint.persistence.store import Store

logger = logging.getLogger(__name__)


def count_open_incidents(store: Store) -> int:
    """``SELECT count(*) FROM incidents WHERE resolved_at IS NULL``, in its own transaction."""
    incidents = tables.incidents
    query = (
        sa.select(sa.func.count()).select_from(incidents).where(incidents.c.resolved_at.is_(None))
    )
    with store.unit_of_work() as uow:
        return int(uow.connection.execute(query).scalar_one())


def link_to_waiting_instance(store: Store, message_name: str, business_key: str | None) -> None:
    """Link the current span to the trace of the instance waiting for ``message_name``.

    Does nothing when tracing is off, when no single execution waits for the message
    (the correlation then fails anyway), or when the instance keeps no trace context
    (started before it was stored). The link goes to the trace of the command that
    started the instance. A failed lookup is logged, never raised: the correlation
    itself must not fail because of it.

    Args:
        store: the engine's store.
        message_name: the correlated message.
        business_key: the business key it is correlated with, if any.
    """
    if not tracing.enabled():
        return
    try:
        with store.unit_of_work() as uow:
            waiting = uow.subscriptions(message_name, business_key=business_key)
            if len(waiting) != 1:
                return
            instance_id = waiting[0].process_instance_id
            instance = uow.process_instance(instance_id)
    except Exception as exc:  # only the link is lost
        logger.warning(
            "cannot look up the trace of the instance waiting for %s: %s", message_name, exc
        )
        return
    if instance is None or not instance.trace_context:
        return
    tracing.add_link(
        instance.trace_context,
        **{
            tracing.PROCESS_INSTANCE_ID: instance_id,
            "safepoint.link.reason": "message correlation",
        },
    )
