"""The invoice example on an embedded engine, one safe point at a time.

Run it with ``python -m safepoint.demo --embedded [--database URL]``. It deploys the invoice
process that ships with Safepoint, starts a few instances and runs their jobs one by
one, printing every job and safe point: a transient failure retried after the
``R3/PT10S`` delay, a failure that exhausts its retries and becomes an incident, and
the incident resolved by setting the job's retries.
"""

from __future__ import annotations

import sys
from importlib import resources

from safepoint import DelegateExecution, Engine, Job, ManualClock

EXAMPLE = "invoice.bpmn"


def say(line: str = "") -> None:
    """Write one line for the person watching."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class InvoiceDelegates:
    """The example's delegates; the mail server is down for some invoices."""

    def __init__(self) -> None:
        self.mail_server_down_for: dict[str, int] = {}
        self.invoices = 0

    def generate_invoice(self, execution: DelegateExecution) -> None:
        """Give the invoice its number."""
        self.invoices += 1
        execution.variables["invoiceNumber"] = f"INV-{1000 + self.invoices}"

    def send_invoice(self, execution: DelegateExecution) -> None:
        """Mail the invoice, unless the mail server is down for it."""
        key = execution.business_key or ""
        if self.mail_server_down_for.get(key, 0) > 0:
            self.mail_server_down_for[key] -= 1
            raise ConnectionError("mail server smtp.example.com refused the connection")
        execution.variables["sent"] = True

    def archive_invoice(self, execution: DelegateExecution) -> None:
        """File the invoice away."""
        execution.variables["archived"] = True

    def registry(self) -> dict[str, object]:
        """The names the BPMN file uses."""
        return {
            "generateInvoice": self.generate_invoice,
            "sendInvoice": self.send_invoice,
            "archiveInvoice": self.archive_invoice,
        }


def describe(job: Job) -> str:
    """One line for a job: what it will do, where, and its retries."""
    due = f", due {job.due_at:%H:%M:%S}" if job.due_at else ""
    failure = f", last error: {job.exception_message}" if job.exception_message else ""
    return f"job {job.configuration} at {job.activity_id} (retries {job.retries}{due}{failure})"


def show_instance(engine: Engine, instance_id: str, label: str) -> None:
    """Where an instance rests now: its wait states, safe points and incidents."""
    instance = engine.process_instance(instance_id)
    if instance.ended:
        say(f"  {label}: ended ({instance.state.value.lower()})")
        return
    say(f"  {label}: waits at {', '.join(engine.active_activity_ids(instance_id))}")
    for job in engine.jobs(instance_id):
        say(f"    safe point committed: {describe(job)}")
    for task in engine.tasks(instance_id):
        say(f"    user task '{task.name}' ({task.activity_id}) waits for a person")
    for incident in engine.incidents(instance_id):
        say(f"    INCIDENT {incident.incident_type} at {incident.activity_id}: {incident.message}")


def run(database_url: str) -> int:
    """Run the demo on ``database_url``; returns the process exit code."""
    clock = ManualClock()
    delegates = InvoiceDelegates()
    with Engine(database_url, delegates=delegates.registry(), clock=clock) as engine:
        say(f"Safepoint demo: the invoice process on an embedded engine ({database_url})")
        say()
        xml = resources.files("safepoint.examples").joinpath(EXAMPLE).read_bytes()
        deployment = engine.deploy("invoice demo", {EXAMPLE: xml})
        for definition in deployment.process_definitions:
            say(f"deployed {definition.key} version {definition.version} from {EXAMPLE}")
        orders = [("ORDER-1", 250), ("ORDER-2", 1800), ("ORDER-3", 600), ("ORDER-4", 90)]
        delegates.mail_server_down_for = {"ORDER-3": 1, "ORDER-4": 99}
        labels: dict[str, str] = {}
        say()
        for business_key, amount in orders:
            instance = engine.start_process_instance_by_key(
                "invoice", {"amount": amount}, business_key=business_key
            )
            labels[instance.id] = f"{business_key} ({amount} EUR)"
            say(f"started {labels[instance.id]}: ran up to its first safe point and committed")
            show_instance(engine, instance.id, labels[instance.id])
        step = 0
        while step < 50:
            step += 1
            order = list(labels)
            due = sorted(
                (
                    j
                    for j in engine.jobs()
                    if j.retries > 0 and (not j.due_at or j.due_at <= clock())
                ),
                key=lambda j: order.index(j.process_instance_id),
            )
            if not due:
                waiting = [j for j in engine.jobs() if j.retries > 0 and j.due_at]
                if waiting:
                    next_due = min(j.due_at for j in waiting if j.due_at)
                    say()
                    say(f"clock: no job is due; {clock():%H:%M:%S} -> {next_due:%H:%M:%S}")
                    clock.set(next_due)
                    continue
                if not _complete_tasks_and_incidents(engine, labels):
                    break
                continue
            job = due[0]
            say()
            say(f"executing {describe(job)} of {labels[job.process_instance_id]}")
            try:
                engine.execute_job(job.id)
                say("  committed: the job's work and the next safe point, in one transaction")
            except Exception as exc:  # the demo shows what the executor records
                say(f"  failed: {exc}; rolled back to the safe point, failure recorded")
            show_instance(engine, job.process_instance_id, labels[job.process_instance_id])
        return _summary(engine, labels)


def _complete_tasks_and_incidents(engine: Engine, labels: dict[str, str]) -> bool:
    acted = False
    for task in engine.tasks():
        say()
        say(f"a person approves '{task.name}' for {labels[task.process_instance_id]}")
        engine.complete_task(task.id, {"approved": True})
        show_instance(engine, task.process_instance_id, labels[task.process_instance_id])
        acted = True
    for incident in engine.incidents():
        say()
        say(
            f"an operator sees the incident of {labels[incident.process_instance_id]}, "
            "fixes the mail server and sets the job's retries to 1"
        )
        engine.delegates["sendInvoice"] = lambda execution: execution.set_variable("sent", True)
        assert incident.configuration is not None
        engine.set_job_retries(incident.configuration, 1)
        show_instance(engine, incident.process_instance_id, labels[incident.process_instance_id])
        acted = True
    return acted


def _summary(engine: Engine, labels: dict[str, str]) -> int:
    say()
    say("summary")
    failed = 0
    for instance_id, label in labels.items():
        instance = engine.process_instance(instance_id)
        path = " -> ".join(h.activity_id for h in engine.history(instance_id))
        failures = sum(1 for entry in engine.job_log(instance_id) if entry.event == "failed")
        say(
            f"  {label}: {'completed' if instance.ended else 'NOT completed'}, "
            f"{failures} failed job run(s)"
        )
        say(f"    {path}")
        failed += 0 if instance.ended else 1
    return 1 if failed else 0
