"""pbxops: durable, observable automation of a Cloud PBX provider's long-running procedures.

``contracts`` (typed data shared by workflows, activities and the CLI), ``workflows``
(deterministic procedure code), ``activities`` (the side effects), ``runtime`` (settings,
Temporal connection, sandbox, receiver), ``cli`` (the ``pbxops`` command) and ``worker``.
"""
