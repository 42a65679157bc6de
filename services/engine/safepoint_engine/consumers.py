"""The engine's consumer of ``safepoint.commands``: every command becomes one Engine call.

Any language may publish a command (see :mod:`safepoint.contract.commands`); this module
translates it into a call of the synchronous :class:`~safepoint.embedded.Engine`, run in
a worker thread, and settles the message by what happened:

====================================  =================================================
what happened                         the message, and the reply (when ``reply_to``)
====================================  =================================================
done                                  acked; ``ok`` with a result
broke the contract (not JSON, wrong   dead-lettered with the reason (by the shared
schema, unknown type)                 consumer); an error reply ``ContractViolation``
refused by the engine (unknown        dead-lettered with the reason; an error reply
process key or task, no or several    named after the error (``NotFound``,
correlation matches, bad variables)   ``BadUserRequest``...)
optimistic locking conflict           run again (up to ``conflict_attempts`` times),
                                      then dead-lettered with an error reply
anything else (database down, a       requeued after a short back-off; on the last
delegate's own exception)             delivery the queue allows, dead-lettered with an
                                      error reply
====================================  =================================================

Commands are delivered at least once: a command redelivered after the engine committed
it but before it was acked runs again (a start starts a second instance; a completion
finds its task gone and is dead-lettered as ``NotFound``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from pydantic import JsonValue

from safepoint import tracing
from safepoint.contract import (
    COMMANDS,
    CommandError,
    CommandReply,
    CompleteExternalTask,
    CompleteTask,
    CorrelateMessage,
    ExternalTaskBpmnError,
    FailExternalTask,
    Message,
    SetJobRetries,
    StartProcessInstance,
    Topology,
    from_typed,
)
from safepoint.core.entities import ProcessInstance
from safepoint.embedded import Engine, use_trace_context
from safepoint.errors import (
    BadUserRequest,
    BpmnError,
    BpmnParseError,
    ContractViolation,
    EngineError,
    MessagingError,
    OptimisticLockError,
)
from safepoint.logs import log_context
from safepoint.messaging import (
    ACK,
    REQUEUE,
    Consumer,
    DeadLetter,
    IncomingMessage,
    Outcome,
    Publisher,
    Rejected,
    consume,
    reply,
)
from safepoint_engine.observability import link_to_waiting_instance

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel

logger = logging.getLogger(__name__)

REFUSED: Final = (BadUserRequest, ContractViolation, EngineError, BpmnError, BpmnParseError)
"""Errors that running the same command again cannot change: dead-letter and answer."""

DEFAULT_CONFLICT_ATTEMPTS: Final = 5
"""How often a command is run when it keeps meeting optimistic locking conflicts."""

DEFAULT_CONFLICT_BACKOFF: Final = 0.02
"""Seconds before the second run after a conflict; doubled for each further run."""

DEFAULT_REQUEUE_BACKOFF: Final = 0.2
"""Seconds a failed command is held before it is requeued; doubled per redelivery."""

MAX_REQUEUE_BACKOFF: Final = 10.0
"""The longest a failed command is held before it is requeued."""

CommandResult = dict[str, JsonValue] | None
"""What a successful command answers with (the reply's ``result``)."""


# --------------------------------------------------------------------------------------
# Command → Engine call
# --------------------------------------------------------------------------------------


def execute_command(engine: Engine, command: Message) -> CommandResult:
    """Run one command on ``engine``, synchronously (call it from a worker thread).

    Returns:
        The reply's result: for a start, the new instance
        (``processInstanceId``, ``processDefinitionId``, ``processDefinitionKey``,
        ``businessKey``, ``ended``); ``None`` for the other commands.

    Raises:
        BadUserRequest: the command cannot be done as asked (``NotFound`` for an unknown
            process key, task, external task or job; no or several executions wait
            for a correlated message).
        ContractViolation: a variable has no Python value.
        OptimisticLockError: another command changed the instance first; run it again.
    """
    match command:
        case StartProcessInstance():
            return _start(engine, command)
        case CorrelateMessage():
            if command.process_instance_id is not None:
                raise BadUserRequest(
                    "correlating a message by processInstanceId is not supported yet; "
                    "correlate by messageName and businessKey"
                )
            link_to_waiting_instance(engine.store, command.message_name, command.business_key)
            engine.correlate_message(
                command.message_name, command.business_key, from_typed(command.variables)
            )
        case CompleteTask():
            engine.complete_task(command.task_id, from_typed(command.variables))
        case CompleteExternalTask():
            engine.complete_external_task(command.external_task_id, from_typed(command.variables))
        case FailExternalTask():
            engine.fail_external_task(
                command.external_task_id,
                error_message=command.error_message,
                error_details=command.error_details,
                retries=command.retries,
                retry_timeout=timedelta(milliseconds=command.retry_timeout),
            )
        case ExternalTaskBpmnError():
            engine.external_task_bpmn_error(
                command.external_task_id,
                command.error_code,
                command.error_message,
                from_typed(command.variables),
            )
        case SetJobRetries():
            engine.set_job_retries(command.job_id, command.retries)
        case _:
            raise ContractViolation(f"{command.message_type} is not a command the engine runs")
    return None


def _start(engine: Engine, command: StartProcessInstance) -> CommandResult:
    variables = from_typed(command.variables)
    instance: ProcessInstance
    if command.process_definition_key is not None:
        instance = engine.start_process_instance_by_key(
            command.process_definition_key, variables, command.business_key
        )
    else:
        assert command.process_definition_id is not None  # the contract allows only these two
        instance = engine.start_process_instance_by_id(
            command.process_definition_id, variables, command.business_key
        )
    logger.info("started process instance %s of %s", instance.id, instance.process_definition_id)
    return {
        "processInstanceId": instance.id,
        "processDefinitionId": instance.process_definition_id,
        "processDefinitionKey": instance.process_definition_key,
        "businessKey": instance.business_key,
        "ended": instance.ended,
    }


# --------------------------------------------------------------------------------------
# Transport → command
# --------------------------------------------------------------------------------------


class CommandHandler:
    """Handles the deliveries of ``safepoint.commands``: runs, answers and settles each.

    Args:
        engine: the engine commands run on (its ``on_commit`` publishes what they create).
        publisher: sends the replies (and, via the consumer, the dead letters).
        topology: its ``delivery_limit`` tells which delivery is a command's last.
        conflict_attempts: runs of a command that keeps meeting optimistic locking
            conflicts before it is dead-lettered.
        conflict_backoff: seconds before the second run; doubled for each further run
            (with jitter, so that competing commands do not collide again).
        requeue_backoff: seconds a command that failed unexpectedly is held before it
            is requeued; doubled per redelivery up to :data:`MAX_REQUEUE_BACKOFF`, so a
            database outage does not use up the delivery limit in milliseconds.
    """

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        topology: Topology | None = None,
        conflict_attempts: int = DEFAULT_CONFLICT_ATTEMPTS,
        conflict_backoff: float = DEFAULT_CONFLICT_BACKOFF,
        requeue_backoff: float = DEFAULT_REQUEUE_BACKOFF,
    ) -> None:
        if conflict_attempts < 1:
            raise ValueError(f"conflict_attempts must be at least 1, not {conflict_attempts}")
        self._engine = engine
        self._publisher = publisher
        self._topology = topology or publisher.topology
        self._conflict_attempts = conflict_attempts
        self._conflict_backoff = conflict_backoff
        self._requeue_backoff = requeue_backoff

    async def __call__(self, incoming: IncomingMessage) -> Outcome:
        """Run the command of ``incoming``; answer it when it has ``reply_to``."""
        command = incoming.message
        try:
            with log_context(process_instance_id=getattr(command, "process_instance_id", None)):
                result = await self._run(command, incoming.trace_context)
        except REFUSED as exc:
            return await self._refuse(incoming, exc)
        except OptimisticLockError as exc:
            logger.warning(
                "%s message %s met optimistic locking conflicts %d times; dead-lettering it",
                incoming.message_type,
                incoming.message_id,
                self._conflict_attempts,
            )
            return await self._refuse(incoming, exc)
        except Exception as exc:
            return await self._failed(incoming, exc)
        await self._answer(incoming, CommandReply(ok=True, result=result))
        return ACK

    async def on_rejected(self, rejected: Rejected) -> None:
        """Answer a command that broke the contract (the consumer dead-lettered it)."""
        if rejected.reply_to:
            await self._answer(rejected, _error_reply("ContractViolation", rejected.reason))

    async def _run(self, command: Message, trace: dict[str, str] | None = None) -> CommandResult:
        """Run ``command`` in a worker thread, again after an optimistic locking conflict.

        The command's ``traceparent`` becomes the trace context of the jobs it creates.
        """
        attempt = 1
        while True:
            try:
                with use_trace_context(tracing.current_headers() or trace):
                    return await asyncio.to_thread(execute_command, self._engine, command)
            except OptimisticLockError:
                if attempt >= self._conflict_attempts:
                    raise
                logger.info(
                    "%s met an optimistic locking conflict (run %d); running it again",
                    command.message_type,
                    attempt,
                )
                delay = self._conflict_backoff * 2 ** (attempt - 1)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                attempt += 1

    async def _refuse(self, incoming: IncomingMessage, exc: Exception) -> Outcome:
        """Answer with the error and dead-letter the command with it as the reason."""
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "%s message %s refused: %s", incoming.message_type, incoming.message_id, reason
        )
        await self._answer(incoming, _error_reply(type(exc).__name__, str(exc)))
        return DeadLetter(reason)

    async def _failed(self, incoming: IncomingMessage, exc: Exception) -> Outcome:
        """Requeue after a back-off; on the last delivery allowed, refuse instead."""
        if incoming.delivery_count >= self._topology.delivery_limit:
            logger.error(
                "%s message %s failed on its last delivery (%d)",
                incoming.message_type,
                incoming.message_id,
                incoming.delivery_count + 1,
                exc_info=exc,
            )
            return await self._refuse(incoming, exc)
        logger.warning(
            "%s message %s failed (delivery %d); requeueing it",
            incoming.message_type,
            incoming.message_id,
            incoming.delivery_count + 1,
            exc_info=exc,
        )
        delay = min(self._requeue_backoff * 2**incoming.delivery_count, MAX_REQUEUE_BACKOFF)
        if delay > 0:
            await asyncio.sleep(delay)
        return REQUEUE

    async def _answer(self, incoming: IncomingMessage | Rejected, answer: CommandReply) -> None:
        """Send ``answer`` to ``reply_to`` (if any); a reply that cannot be sent is logged.

        The command's outcome stands either way: a done command must not run again
        because its reply was lost.
        """
        headers: Mapping[str, str] | None = None
        if isinstance(incoming, IncomingMessage):
            headers = incoming.trace_context or None
        try:
            await reply(self._publisher, incoming, answer, headers=headers)
        except MessagingError as exc:
            logger.warning(
                "could not answer message %s at %s: %s", incoming.message_id, incoming.reply_to, exc
            )


def _error_reply(error_type: str, message: str) -> CommandReply:
    return CommandReply(ok=False, error=CommandError(type=error_type, message=message))


async def consume_commands(
    channel: AbstractChannel,
    handler: CommandHandler,
    *,
    prefetch: int,
    publisher: Publisher,
    topology: Topology | None = None,
) -> Consumer:
    """Start consuming ``safepoint.commands`` with ``handler``; stop the consumer to end.

    Args:
        channel: a channel with publisher confirms, used for consuming only (its
            prefetch is set to ``prefetch``).
        handler: runs, answers and settles each command.
        prefetch: the most commands handled at once.
        publisher: publishes dead letters (on a channel of its own).
        topology: the queue names; default ``safepoint.*``.

    Raises:
        MessagingError: the commands queue does not exist (declare the topology first).
        BrokerUnavailable: the connection is lost.
    """
    topology = topology or publisher.topology
    return await consume(
        channel,
        topology.commands_queue,
        handler,
        prefetch=prefetch,
        topology=topology,
        accepts=COMMANDS,
        publisher=publisher,
        on_rejected=handler.on_rejected,
    )
