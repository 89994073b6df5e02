"""Deterministic orchestration: one module per procedure plus shared helpers.

What the worker registers is in ``pbxops.workflows.registry``; this file stays empty because the
sandbox re-runs it for every workflow instance.
"""
