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

Commands are delivered at least once, and carried out once: a command with a
``message_id`` is recorded as processed, with its answer, in the transaction that
carries it out (:func:`~safepoint.embedded.recording_command`). A redelivery (the
engine committed but could not ack; the sender got no confirm and sent it again) is
acked without running again, and answered with the recorded answer: a start does not
start a second instance. Reusing a ``message_id`` for another type of command is
refused. A command without ``message_id`` cannot be recognised and runs each time it
is delivered. A ``message_id`` reused for a command of other content (a hash of the
body decides) is refused too. The records are kept for the messaging settings'
``command_retention`` (the dispatcher forgets older ones).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Final

from pydantic import JsonValue

from safepoint import metrics, tracing
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
from safepoint.core.outcome import CommandOutcome
from safepoint.embedded import Engine, ProcessedCommand, recording_command, use_trace_context
from safepoint.errors import (
    BadUserRequest,
    BpmnError,
    BpmnParseError,
    ContractViolation,
    DuplicateCommand,
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
from safepoint.messaging.outbox import OutboxRelay
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
    return _started(
        instance.id,
        instance.process_definition_id,
        instance.process_definition_key,
        instance.business_key,
        ended=instance.ended,
    )


def _started(
    process_instance_id: str,
    process_definition_id: str,
    process_definition_key: str,
    business_key: str | None,
    *,
    ended: bool,
) -> CommandResult:
    """A start's answer."""
    return {
        "processInstanceId": process_instance_id,
        "processDefinitionId": process_definition_id,
        "processDefinitionKey": process_definition_key,
        "businessKey": business_key,
        "ended": ended,
    }


def _start_answer(outcomes: Sequence[CommandOutcome]) -> CommandResult:
    """A start's answer, from its transaction's outcome (recorded with the command)."""
    for outcome in outcomes:
        if outcome.started:
            return _started(
                outcome.process_instance_id,
                outcome.process_definition_id,
                outcome.process_definition_key,
                outcome.business_key,
                ended=outcome.ended,
            )
    return None


def execute_command_once(engine: Engine, command: Message, command_id: str | None) -> CommandResult:
    """Run ``command`` as :func:`execute_command` does, recording it as ``command_id``.

    Without ``command_id`` nothing is recorded (the command cannot be recognised).

    Raises:
        DuplicateCommand: ``command_id`` was carried out already (nothing of this run
            is kept); and whatever :func:`execute_command` raises.
    """
    if command_id is None:
        return execute_command(engine, command)
    answer = _start_answer if isinstance(command, StartProcessInstance) else None
    with recording_command(
        command_id, str(command.message_type), answer=answer, fingerprint=fingerprint(command)
    ):
        return execute_command(engine, command)


def _other_command(done: ProcessedCommand, incoming: IncomingMessage) -> str | None:
    """What else ``done`` was, in words, if ``incoming`` is not a copy of it."""
    if done.command_type != incoming.message_type:
        return f"a {done.command_type} command"
    if done.fingerprint not in (None, fingerprint(incoming.message)):
        return "a command with other content"
    return None


def fingerprint(command: Message) -> str:
    """A hash of the command's content: the same for a redelivery, not for another command."""
    return hashlib.sha256(command.model_dump_json().encode()).hexdigest()


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
        relay: the outbox relay that is the engine's ``on_commit`` hook: what a command
            commits is then published from the event loop once its worker thread
            returns, before the command is answered and acknowledged
            (:meth:`OutboxRelay.run_deferred`), not by the hook from the thread.
    """

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        relay: OutboxRelay | None = None,
        topology: Topology | None = None,
        conflict_attempts: int = DEFAULT_CONFLICT_ATTEMPTS,
        conflict_backoff: float = DEFAULT_CONFLICT_BACKOFF,
        requeue_backoff: float = DEFAULT_REQUEUE_BACKOFF,
    ) -> None:
        if conflict_attempts < 1:
            raise ValueError(f"conflict_attempts must be at least 1, not {conflict_attempts}")
        self._engine = engine
        self._publisher = publisher
        self._relay = relay
        self._topology = topology or publisher.topology
        self._conflict_attempts = conflict_attempts
        self._conflict_backoff = conflict_backoff
        self._requeue_backoff = requeue_backoff

    async def __call__(self, incoming: IncomingMessage) -> Outcome:
        """Run the command of ``incoming``; answer it when it has ``reply_to``."""
        command = incoming.message
        command_id = incoming.message_id or None
        try:
            with log_context(process_instance_id=getattr(command, "process_instance_id", None)):
                result = await self._run(command, incoming.trace_context, command_id)
        except DuplicateCommand:
            # Carried out before, or by a concurrent delivery that committed first.
            return await self._repeat_recorded(incoming) or REQUEUE
        except REFUSED as exc:
            # A lookup before the command's transaction (its external task gone, say)
            # may be what a first delivery's success looks like to a redelivery.
            return await self._repeat_recorded(incoming) or await self._refuse(incoming, exc)
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

    async def _repeat(self, incoming: IncomingMessage, done: ProcessedCommand) -> Outcome:
        """Answer a command carried out before with its recorded answer; ack it."""
        other = _other_command(done, incoming)
        if other is not None:
            return await self._refuse(
                incoming,
                BadUserRequest(
                    f"message_id {done.id!r} was used by {other}, carried out at "
                    f"{done.processed_at.isoformat()}; give every command a message_id "
                    "of its own (the same one only when sending the same command again)"
                ),
            )
        logger.info(
            "%s message %s was carried out at %s already; answering with its result, "
            "not running it again",
            incoming.message_type,
            incoming.message_id,
            done.processed_at.isoformat(),
        )
        metrics.COMMANDS_REPEATED.inc()
        await self._answer(incoming, CommandReply(ok=True, result=done.result))
        return ACK

    async def _repeat_recorded(self, incoming: IncomingMessage) -> Outcome | None:
        """Answer a command recorded as carried out already; ``None`` if it is not."""
        if not incoming.message_id:
            return None
        done = await asyncio.to_thread(self._engine.processed_command, incoming.message_id)
        return None if done is None else await self._repeat(incoming, done)

    async def _run(
        self,
        command: Message,
        trace: dict[str, str] | None = None,
        command_id: str | None = None,
    ) -> CommandResult:
        """Run ``command`` in a worker thread, again after an optimistic locking conflict.

        The command's ``traceparent`` becomes the trace context of the jobs it creates.
        With ``command_id``, the run that commits records the command as processed.
        """
        attempt = 1
        while True:
            try:
                with use_trace_context(tracing.current_headers() or trace):
                    run = partial(execute_command_once, self._engine, command, command_id)
                    if self._relay is None:
                        return await asyncio.to_thread(run)
                    return await self._relay.run_deferred(asyncio.to_thread, run)
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
