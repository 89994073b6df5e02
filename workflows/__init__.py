"""Deterministic orchestration: one module per procedure plus shared helpers.

``ALL_WORKFLOWS`` is what the worker registers.
"""

from workflows.service_transition import ServiceDeactivation, ServiceReactivation

ALL_WORKFLOWS = [ServiceDeactivation, ServiceReactivation]
