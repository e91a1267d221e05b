"""The whole span's skill sections of the last answer, kept and patched in place.

Between two polls of a live account a write usually changes a few (skill, agent)
pairs. The whole span's sums of every pair are kept with the text of each skill's
section; the next answer compares its sums with the kept ones and renders again
only the skills with a pair that differs, reusing the others' text as it was. The
comparison is of the sums themselves, so it holds whatever changed (new data, a
span that moved on, buckets dropped); only a different table (a reload numbers the
pairs afresh) makes every skill be rendered again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engactivity.methods.engactivity.read import Dense, Slice
from engactivity.methods.engactivity.render import render_skills
from engactivity.store.memory import Int64s


@dataclass(frozen=True, eq=False)
class KeptSkills:
    dense: Dense
    texts: dict[int, str]
    """skill -> its section's text (skills with rows only)."""

    def __len__(self) -> int:
        """What it costs the fragment cache (bytes, roughly)."""
        return self.dense.sums.nbytes + sum(len(text) for text in self.texts.values())


def skill_texts(kept: KeptSkills | None, dense: Dense, whole: Slice) -> dict[int, str]:
    """Each skill's section of ``whole`` (read as ``dense``), from ``kept`` where unchanged."""
    changed = _changed_skills(kept, dense)
    if kept is None or changed is None:
        return render_skills(whole)
    texts = dict(kept.texts)
    for skill in changed.tolist():
        texts.pop(skill, None)
    rows = np.isin(whole.skills, changed)
    texts.update(
        render_skills(
            Slice(whole.skills[rows], whole.agents[rows], whole.has_agent[rows], whole.sums[rows])
        )
    )
    return texts


def _changed_skills(kept: KeptSkills | None, dense: Dense) -> Int64s | None:
    """The skills with a selected pair whose sums differ from the kept ones (None: all)."""
    if kept is None:
        return None
    owner = dense.owner()
    old = kept.dense.sums
    if owner is None or kept.dense.owner() is not owner or len(old) > len(dense.sums):
        return None
    differs = np.concatenate(
        ((dense.sums[: len(old)] != old).any(axis=1), dense.sums[len(old) :].any(axis=1))
    )
    return np.unique(dense.skills[differs & dense.selected])
