"""The deployer's HTTP models: Camunda 7 REST JSON (camelCase) for deployments.

Fields of features Safepoint does not have (tenants, case and decision definitions) are
written as Camunda writes them when unused (``null``). Timestamps are UTC in Camunda's
format, ``2026-01-01T10:00:00.000+0000``.
"""

from __future__ import annotations

from pydantic import Field

from safepoint.camunda_rest import CamundaModel as CamundaModel
from safepoint.camunda_rest import ExceptionDto as ExceptionDto
from safepoint.camunda_rest import HealthDto as HealthDto
from safepoint.camunda_rest import LinkDto as LinkDto
from safepoint.camunda_rest import ProcessDefinitionDto as ProcessDefinitionDto
from safepoint.contract import Timestamp
from safepoint.core.deployments import Deployment
from safepoint.errors import Problem


class ProblemDto(CamundaModel):
    """One problem of a refused BPMN resource: where it is and what is wrong."""

    message: str
    line: int | None
    column: int | None
    element_id: str | None
    resource: str | None

    @classmethod
    def of(cls, problem: Problem) -> ProblemDto:
        """The DTO of a parse problem."""
        return cls(
            message=problem.message,
            line=problem.line,
            column=problem.column,
            element_id=problem.element_id,
            resource=problem.resource_name,
        )


class ResourceReportProblemDto(CamundaModel):
    """A problem in Camunda's ``ParseException`` details (``mainElementId``, ``elementIds``)."""

    message: str
    line: int | None
    column: int | None
    main_element_id: str | None
    element_ids: list[str]

    @classmethod
    def of(cls, problem: Problem) -> ResourceReportProblemDto:
        """Camunda's form of a parse problem."""
        return cls(
            message=problem.message,
            line=problem.line,
            column=problem.column,
            main_element_id=problem.element_id,
            element_ids=[problem.element_id] if problem.element_id else [],
        )


class ResourceReportDto(CamundaModel):
    """The problems of one resource (Camunda's ``ResourceReportDto``)."""

    errors: list[ResourceReportProblemDto]
    warnings: list[ResourceReportProblemDto] = Field(default_factory=list)


class ParseExceptionDto(CamundaModel):
    """The 400 answer to invalid BPMN: every problem, flat and by resource.

    ``problems`` lists each problem with its resource, line and element id;
    ``details`` holds the same per resource as Camunda's ``ParseException`` does.
    """

    type: str = "ParseException"
    message: str
    problems: list[ProblemDto]
    details: dict[str, ResourceReportDto]

    @classmethod
    def of(cls, message: str, problems: list[Problem]) -> ParseExceptionDto:
        """The answer for a refused deployment with these ``problems``."""
        details: dict[str, ResourceReportDto] = {}
        for problem in problems:
            report = details.setdefault(problem.resource_name or "", ResourceReportDto(errors=[]))
            report.errors.append(ResourceReportProblemDto.of(problem))
        return cls(
            message=message,
            problems=[ProblemDto.of(problem) for problem in problems],
            details=details,
        )


class DeploymentDto(CamundaModel):
    """Camunda's ``DeploymentDto``."""

    links: list[LinkDto] = Field(default_factory=list)
    id: str
    name: str | None
    source: str | None
    deployment_time: Timestamp
    tenant_id: str | None = None

    @classmethod
    def of(cls, deployment: Deployment, links: list[LinkDto]) -> DeploymentDto:
        """The DTO of a deployment."""
        return cls(
            links=links,
            id=deployment.id,
            name=deployment.name,
            source=deployment.source,
            deployment_time=deployment.deployed_at,
        )


class DeploymentWithDefinitionsDto(DeploymentDto):
    """The answer to ``POST /deployment/create`` (Camunda's ``DeploymentWithDefinitionsDto``).

    ``deployedProcessDefinitions`` maps the id of each definition the deployment created
    to the definition; it is ``null`` when duplicate filtering found nothing new and an
    existing deployment is returned, as in Camunda.
    """

    deployed_process_definitions: dict[str, ProcessDefinitionDto] | None
    deployed_case_definitions: dict[str, object] | None = None
    deployed_decision_definitions: dict[str, object] | None = None
    deployed_decision_requirements_definitions: dict[str, object] | None = None

    @classmethod
    def created(
        cls, deployment: Deployment, links: list[LinkDto], *, new: bool
    ) -> DeploymentWithDefinitionsDto:
        """The DTO of a deployment just created (``new``) or found by duplicate filtering."""
        definitions = (
            {d.id: ProcessDefinitionDto.of(d) for d in deployment.process_definitions}
            if new
            else None
        )
        return cls(
            links=links,
            id=deployment.id,
            name=deployment.name,
            source=deployment.source,
            deployment_time=deployment.deployed_at,
            deployed_process_definitions=definitions,
        )
