"""``make demo``: the invoice example runs to the end on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from safepoint.demo.embedded import run


def test_demo_runs_every_invoice_to_the_end(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database_url) == 0

    out = capsys.readouterr().out
    assert "deployed invoice version 1 from invoice.bpmn" in out
    assert "transition-notify-listener-take$Flow_SmallAmount at Task_GenerateInvoice" in out
    assert "transition-notify-listener-take$Flow_LargeAmount at Task_GenerateInvoice" in out
    assert "INCIDENT failedJob at Task_SendInvoice" in out
    for order in ("ORDER-1", "ORDER-2", "ORDER-3", "ORDER-4"):
        assert f"{order}" in out
    summary = out.split("\nsummary\n", 1)[1]
    assert summary.count(": completed") == 4
    assert "ORDER-3 (600 EUR): completed, 1 failed job run(s)" in summary
    assert "ORDER-4 (90 EUR): completed, 3 failed job run(s)" in summary
