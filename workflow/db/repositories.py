"""The old import path of ``conflict_insert``, kept for ``workflow.db.deliveries``.

The repositories are in ``workflow.db.releases``, ``workflow.db.users`` and
``workflow.db.topics``; ``conflict_insert`` and ``flush`` are in ``workflow.db.writes``.
"""

from workflow.db.writes import conflict_insert

__all__ = ["conflict_insert"]
