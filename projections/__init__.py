"""Read models built from the event log: the handbook, certificate status, the audit trail."""
