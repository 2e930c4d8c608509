"""Webhooks for hospital registries: endpoints, their delivery log, and the worker that
POSTs each event to them, signed (Standard Webhooks), at least once, in order per trainee.

- `tables`: the endpoints, their change history and the delivery log (migration 0004);
- `registry`: registering, pausing, resuming, removing, redelivering; reading the log;
- `signing`: secrets and signatures, and the check a receiver makes;
- `delivery`: the worker (`dualtrack deliver`).
"""
