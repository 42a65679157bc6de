"""Safepoint: a BPMN 2.0 process engine whose heart is the asynchronous continuation."""

from safepoint.core.activity_tree import ActivityInstance, TransitionInstance
from safepoint.core.context import EngineConfig
from safepoint.core.delegates import DelegateExecution
from safepoint.core.deployments import Deployment, ProcessDefinition
from safepoint.core.entities import (
    ExternalTask,
    HistoricActivityInstance,
    Incident,
    Job,
    JobLog,
    ProcessInstance,
    Task,
)
from safepoint.embedded import Engine, ManualClock
from safepoint.errors import (
    BadUserRequest,
    BpmnError,
    BpmnParseError,
    NotFound,
    OptimisticLockError,
    Problem,
    SafepointError,
)

__version__ = "0.1.0"

__all__ = [
    "ActivityInstance",
    "BadUserRequest",
    "BpmnError",
    "BpmnParseError",
    "DelegateExecution",
    "Deployment",
    "Engine",
    "EngineConfig",
    "ExternalTask",
    "HistoricActivityInstance",
    "Incident",
    "Job",
    "JobLog",
    "ManualClock",
    "NotFound",
    "OptimisticLockError",
    "ProcessDefinition",
    "ProcessInstance",
    "Problem",
    "SafepointError",
    "Task",
    "TransitionInstance",
    "__version__",
]
