"""The garbage collector in long-running processes (web and worker).

CPython's collector scans, at each full collection, every container object that has
survived the younger ones: in a web process, some 200,000 objects that the imports and
the app's construction made and that live as long as the process (modules, classes,
routes, SQLAlchemy's mappers). On a busy server such a collection comes every few
seconds and holds the event loop for as long as the scan takes, and no request moves
meanwhile. ``gc.freeze()`` moves what exists at that moment into a generation the
collector never scans; what the process makes afterwards is collected as usual. Frozen
before a fork, the objects also stay shared with the children instead of being copied
as the collector touches them.
"""

from __future__ import annotations

import gc


def freeze_what_startup_made() -> None:
    """Collect what startup left as garbage, then exempt everything still alive from
    later full collections. Call once, when the process has built what it keeps."""
    gc.collect()
    gc.freeze()
