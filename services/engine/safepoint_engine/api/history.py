"""Routes for history: ended and running process instances, activity instances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from safepoint_engine.api.common import FirstResult, MaxResults, Service, page
from safepoint_engine.queries import HistoricActivityInstanceQuery, HistoricProcessInstanceQuery
from safepoint_engine.schemas import (
    ExceptionDto,
    HistoricActivityInstanceDto,
    HistoricProcessInstanceDto,
)

router = APIRouter()


@router.get(
    "/history/process-instance",
    response_model=list[HistoricProcessInstanceDto],
    tags=["Historic Process Instance"],
)
def list_historic_process_instances(
    service: Service,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    process_definition_id: Annotated[str | None, Query(alias="processDefinitionId")] = None,
    process_definition_key: Annotated[str | None, Query(alias="processDefinitionKey")] = None,
    business_key: Annotated[str | None, Query(alias="processInstanceBusinessKey")] = None,
    finished: bool = False,
    unfinished: bool = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[HistoricProcessInstanceDto]:
    """Process instances, running and ended, oldest first."""
    query = HistoricProcessInstanceQuery(
        process_instance_id=process_instance_id,
        process_definition_id=process_definition_id,
        process_definition_key=process_definition_key,
        business_key=business_key,
        finished=finished,
        unfinished=unfinished,
    )
    found = service.historic_process_instances(query, first_result or 0, max_results)
    return [HistoricProcessInstanceDto.of(historic) for historic in found]


@router.get(
    "/history/process-instance/{process_instance_id}",
    response_model=HistoricProcessInstanceDto,
    tags=["Historic Process Instance"],
)
def get_historic_process_instance(
    service: Service, process_instance_id: str
) -> HistoricProcessInstanceDto:
    """One process instance, running or ended."""
    return HistoricProcessInstanceDto.of(service.historic_process_instance(process_instance_id))


@router.get(
    "/history/activity-instance",
    response_model=list[HistoricActivityInstanceDto],
    responses={501: {"model": ExceptionDto, "description": "processInstanceId missing"}},
    tags=["Historic Activity Instance"],
)
def list_historic_activity_instances(
    service: Service,
    process_instance_id: Annotated[str | None, Query(alias="processInstanceId")] = None,
    activity_id: Annotated[str | None, Query(alias="activityId")] = None,
    activity_type: Annotated[str | None, Query(alias="activityType")] = None,
    finished: bool = False,
    unfinished: bool = False,
    canceled: bool = False,
    first_result: FirstResult = None,
    max_results: MaxResults = None,
) -> list[HistoricActivityInstanceDto]:
    """The activity instances of a process instance, in the order they started."""
    query = HistoricActivityInstanceQuery(
        process_instance_id=process_instance_id,
        activity_id=activity_id,
        activity_type=activity_type,
        finished=finished,
        unfinished=unfinished,
        canceled=canceled,
    )
    history = service.historic_activity_instances(query)
    instance = history.instance
    if instance is None:
        return []
    found = page(history.activities, first_result, max_results)
    return [HistoricActivityInstanceDto.of(activity, instance) for activity in found]
