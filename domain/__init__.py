"""The trainee record: commands, decisions and events.

Imports only the standard library and eventsourcing's domain classes, so that the
rules can be read, tested and reused without a web or database framework.
"""
