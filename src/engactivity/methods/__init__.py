"""The methods of the Operational Realtime API this service answers.

This is the one place a method is registered: the HTTP layer makes its routes, and the
store keeps its tables, from this list. How to add one: docs/design.md.
"""

from __future__ import annotations

from engactivity.methods.agentactivity import AGENTACTIVITY
from engactivity.methods.engactivity import ENGACTIVITY
from engactivity.methods.method import AnyMethod
from engactivity.methods.queuehealth import QUEUEHEALTH
from engactivity.methods.queuestate import QUEUESTATE
from engactivity.methods.sla import SLA
from engactivity.store.tables import Table

METHODS: tuple[AnyMethod, ...] = (ENGACTIVITY, QUEUEHEALTH, QUEUESTATE, SLA, AGENTACTIVITY)


def tables_of(methods: tuple[AnyMethod, ...] = METHODS) -> tuple[Table, ...]:
    """The tables of ``methods``, each once, in order."""
    out: dict[str, Table] = {}
    for method in methods:
        for table in method.tables:
            out.setdefault(table.name, table)
    return tuple(out.values())
