"""The contract and the registry: specs, hook specifications, discovery, lookup, reports.

Nothing here knows about neurons; see docs/architecture.md for the import rules.
"""
