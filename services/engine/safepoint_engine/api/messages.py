"""Routes for message correlation."""

from __future__ import annotations

from fastapi import APIRouter, Response

from safepoint.contract import from_typed
from safepoint_engine.api.common import Commands, Service, no_content
from safepoint_engine.schemas import CorrelationMessageDto
from safepoint_engine.service import Unsupported

router = APIRouter()


@router.post("/message", status_code=204, response_class=Response, tags=["Message"])
async def correlate_message(
    service: Service, commands: Commands, body: CorrelationMessageDto
) -> Response:
    """Deliver a message to the one execution waiting for it (400 if none or several)."""
    unsupported = [
        name
        for name, given in (
            ("processVariablesLocal", bool(body.process_variables_local)),
            ("correlationKeys", bool(body.correlation_keys)),
            ("localCorrelationKeys", bool(body.local_correlation_keys)),
            ("processInstanceId", body.process_instance_id is not None),
            ("tenantId", body.tenant_id is not None),
            ("all", body.all),
            ("resultEnabled", body.result_enabled),
            ("variablesInResultEnabled", body.variables_in_result_enabled),
        )
        if given
    ]
    if unsupported:
        raise Unsupported(
            f"message correlation by messageName and businessKey only: "
            f"{', '.join(unsupported)} not supported yet"
        )
    await commands(
        service.correlate_message,
        body.message_name,
        body.business_key,
        from_typed(body.process_variables),
    )
    return no_content()
