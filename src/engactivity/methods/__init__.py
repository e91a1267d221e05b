"""The methods of the Operational Realtime API this service answers.

This is the one place a method is registered: the HTTP layer makes its routes, and the
store keeps its tables, from this list. How to add one: docs/design.md.
"""

from __future__ import annotations

from engactivity.methods.engactivity import ENGACTIVITY
from engactivity.methods.method import AnyMethod
from engactivity.store.tables import BucketTable

METHODS: tuple[AnyMethod, ...] = (ENGACTIVITY,)


def tables_of(methods: tuple[AnyMethod, ...] = METHODS) -> tuple[BucketTable, ...]:
    """The bucket tables of ``methods``, each once, in order."""
    out: dict[str, BucketTable] = {}
    for method in methods:
        for table in method.tables:
            out.setdefault(table.name, table)
    return tuple(out.values())
