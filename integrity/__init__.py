"""Tamper evidence, free of any database or web framework.

Hash chains per stream, an RFC 6962 Merkle tree over the whole log, signed checkpoints
and offline evidence bundles. Storage lives in service.ledger; this package only computes
and checks.
"""
