"""Typed contracts exchanged by the starter, workflows and activities.

Pure pydantic models and constants: no I/O, nothing that a workflow sandbox would object to.
"""
