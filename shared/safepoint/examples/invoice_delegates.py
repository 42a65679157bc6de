"""The invoice example's delegates, for the services.

Load them with ``SAFEPOINT_DELEGATES_MODULE=safepoint.examples.invoice_delegates``.
``sendInvoice`` plays an unreliable mail server: it fails now and then (one try in ten,
or the process variable ``mailFailureRate``; retried after the example's ``R3/PT10S``
delay), and always for orders started with ``mailServerDown=true``, which end as
``failedJob`` incidents.
"""

from __future__ import annotations

import random

from safepoint.core.delegates import DelegateExecution

TRANSIENT_FAILURE_RATE = 0.1
"""How often the mail server refuses a connection for no reason."""


def generate_invoice(execution: DelegateExecution) -> None:
    """Number the invoice after the order (its business key)."""
    execution.variables["invoiceNumber"] = f"INV-{execution.business_key or execution.id[:8]}"


def send_invoice(execution: DelegateExecution) -> None:
    """Mail the invoice; the mail server is not always there."""
    if execution.get_variable("mailServerDown", False):
        raise ConnectionError("mail server smtp.example.com refused the connection")
    rate = execution.get_variable("mailFailureRate", TRANSIENT_FAILURE_RATE)
    if random.random() < float(str(rate)):  # noqa: S311 - a demo's dice, not security
        raise TimeoutError("mail server smtp.example.com did not answer in time")
    execution.variables["sent"] = True


def archive_invoice(execution: DelegateExecution) -> None:
    """File the invoice away."""
    execution.variables["archived"] = True


DELEGATES = {
    "generateInvoice": generate_invoice,
    "sendInvoice": send_invoice,
    "archiveInvoice": archive_invoice,
}
"""The names the invoice example's BPMN file uses."""
