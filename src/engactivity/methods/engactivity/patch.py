"""The whole span's skill and agent entries of the last answer, kept and patched in place.

Between two polls of a live account a write usually changes a few (skill, agent)
pairs. The whole span's sums of every pair are kept with the text of each skill's
section; the next answer compares its sums with the kept ones and renders again
only the skills with a pair that differs, reusing the others' text as it was. The
comparison is of the sums themselves, so it holds whatever changed (new data, a
span that moved on, buckets dropped); only a different table (a reload numbers the
pairs afresh) makes every skill be rendered again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engactivity.methods.engactivity.read import Dense, Slice
from engactivity.methods.engactivity.render import render_agents, render_skills
from engactivity.store.memory import Int64s


@dataclass(frozen=True, eq=False)
class KeptSections:
    dense: Dense
    skills: dict[int, str] | None
    """skill -> its entry's text (skills with rows only), when the question has skills."""
    agents: dict[int, str] | None
    """agent -> its entry's text, when the question has agents."""

    def __len__(self) -> int:
        """What it costs the fragment cache (bytes, roughly)."""
        texts = [*(self.skills or {}).values(), *(self.agents or {}).values()]
        return self.dense.sums.nbytes + sum(len(text) for text in texts)


def patched(
    kept: KeptSections | None, dense: Dense, whole: Slice, skills: bool, agents: bool
) -> KeptSections:
    """The entries of ``whole`` (read as ``dense``): of its skills and of its agents, as
    asked, from ``kept`` where their pairs' sums are unchanged."""
    changed = _changed(kept, dense)
    if kept is None or changed is None:
        return KeptSections(
            dense,
            render_skills(whole) if skills else None,
            render_agents(whole) if agents else None,
        )
    skill_texts = _patch(kept.skills, whole, whole.skills, dense.skills[changed], render_skills)
    with_agent = changed[dense.has_agent[changed]]
    agent_texts = _patch(kept.agents, whole, whole.agents, dense.agents[with_agent], render_agents)
    return KeptSections(dense, skill_texts, agent_texts)


def _patch(
    texts: dict[int, str] | None,
    whole: Slice,
    ids_of_rows: Int64s,
    changed: Int64s,
    render: Callable[[Slice], dict[int, str]],
) -> dict[int, str] | None:
    """``texts`` with the entries of the ``changed`` ids rendered again."""
    if texts is None:
        return None
    ids = np.unique(changed)
    texts = dict(texts)
    for one in ids.tolist():
        texts.pop(one, None)
    rows = np.isin(ids_of_rows, ids)
    piece = Slice(whole.skills[rows], whole.agents[rows], whole.has_agent[rows], whole.sums[rows])
    texts.update(render(piece))
    return texts


def _changed(kept: KeptSections | None, dense: Dense) -> Int64s | None:
    """The selected pairs whose sums differ from the kept ones (None: any may)."""
    if kept is None:
        return None
    owner = dense.owner()
    old = kept.dense.sums
    if owner is None or kept.dense.owner() is not owner or len(old) > len(dense.sums):
        return None
    differs = np.concatenate(
        ((dense.sums[: len(old)] != old).any(axis=1), dense.sums[len(old) :].any(axis=1))
    )
    return np.flatnonzero(differs & dense.selected)
