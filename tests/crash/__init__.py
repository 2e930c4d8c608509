"""Crash tests: real `dualtrack serve` and `dualtrack project` processes, and PostgreSQL
itself, killed at random (seeded) moments under concurrent HTTP load; afterwards nothing
acknowledged is lost or duplicated and the read models equal a clean rebuild."""
