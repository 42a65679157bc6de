"""The JSON models of Camunda 7's REST API that more than one HTTP service answers with.

camelCase names on the wire, snake_case in Python. Each service keeps its own models
beside these (``safepoint_deployer.schemas``, ``safepoint_engine.schemas``); what both
serve, the error body, links, health and the process definition, lives here once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from safepoint.core.deployments import ProcessDefinition


class CamundaModel(BaseModel):
    """A JSON object of Camunda's REST API: camelCase names, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class ExceptionDto(CamundaModel):
    """Camunda's error body: the exception type and its message."""

    type: str = Field(examples=["InvalidRequestException"])
    message: str


class LinkDto(CamundaModel):
    """A link to a resource (Camunda's ``AtomLink``)."""

    method: str = "GET"
    href: str
    rel: str = "self"


class HealthDto(CamundaModel):
    """Whether the service (and, for readiness, its database) is up."""

    status: str = Field(examples=["UP"])
    database: str | None = Field(default=None, examples=["UP"])
    message: str | None = None


class ProcessDefinitionDto(CamundaModel):
    """Camunda's ``ProcessDefinitionDto``."""

    id: str
    key: str
    category: str | None = None
    description: str | None = None
    name: str | None = None
    version: int
    resource: str
    deployment_id: str
    diagram: str | None = None
    suspended: bool = False
    tenant_id: str | None = None
    version_tag: str | None = None
    history_time_to_live: int | None = None
    startable_in_tasklist: bool = True

    @classmethod
    def of(cls, definition: ProcessDefinition) -> ProcessDefinitionDto:
        """The DTO of a deployed process definition."""
        return cls(
            id=definition.id,
            key=definition.key,
            name=definition.name,
            version=definition.version,
            resource=definition.resource_name,
            deployment_id=definition.deployment_id,
            version_tag=definition.version_tag,
            history_time_to_live=definition.history_time_to_live,
        )
