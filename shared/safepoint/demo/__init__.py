"""``make demo``: the invoice example, through the services or on an embedded engine."""
