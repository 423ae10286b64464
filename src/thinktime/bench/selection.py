"""Two published ways to pick one of n samples, as pure functions the replay rules call.

**Borda voting by confidence rank** (Kang, Zhao, Song 2025, "Scalable Best-of-N Selection for
Large Language Models via Self-Certainty", arXiv:2502.18581; the authors' code is
backprop07/Self-Certainty, `src/voting_from_list.py`):
1) rank the N samples by their self-certainty, the surest first (rank r = 1);
2) the sample at rank r votes for its answer with weight v(r) = (N − r + 1)^p;
3) the answer with the most weight wins. p = 0 is plain majority; a large p is best-of-N by
   self-certainty. The authors' code defaults to p = 0.5 (`--power 0.5`), the value here.
   A sample without an answer keeps its rank but casts no vote, as in their code.

    >>> borda_weights([0.2, 0.9, 0.5], p=1.0)  # ranks 3, 1, 2 of N = 3
    [1.0, 3.0, 2.0]

**Whole-text clustering as optillm's self-consistency does it** (codelion/optillm,
`optillm/self_consistency.py`): each response joins the first cluster whose first response is
at least `threshold` similar to it — difflib's `SequenceMatcher(None, a, b).ratio()`, threshold
0.8 — else starts its own; the clusters are sorted by size (a stable sort: ties keep the order
they were opened in) and the largest one's first response is the answer. No answer is
extracted: the whole text is compared.

    >>> largest_cluster(["x = 4, so 4", "y = 5", "x = 4, so 4."])
    0
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher


def borda_weights(scores: Sequence[float], p: float) -> list[float]:
    """Each sample's Borda vote (N − r + 1)^p, r its rank by `scores` (highest first; equal
    scores keep the drawn order)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    weights = [0.0] * len(scores)
    for rank, index in enumerate(order, start=1):
        weights[index] = float(len(scores) - rank + 1) ** p
    return weights


def clusters(texts: Sequence[str], threshold: float = 0.8) -> list[list[int]]:
    """optillm's clusters of `texts` (indices), in the order they were opened."""
    found: list[tuple[SequenceMatcher[str], list[int]]] = []  # its first text's matcher, members
    for i, text in enumerate(texts):
        home = next((members for first, members in found if _similar(first, text, threshold)), None)
        if home is None:
            found.append((SequenceMatcher(None, "", text), [i]))
        else:
            home.append(i)
    return [members for _, members in found]


def _similar(first: SequenceMatcher[str], text: str, threshold: float) -> bool:
    """`SequenceMatcher(None, text, first text).ratio() >= threshold`, as optillm tests it; the
    matcher keeps the first text's index, and the cheap upper bounds of the ratio rule most
    pairs out before the full one is computed (the same answer, faster)."""
    first.set_seq1(text)
    return (
        first.real_quick_ratio() >= threshold
        and first.quick_ratio() >= threshold
        and first.ratio() >= threshold
    )


def largest_cluster(texts: Sequence[str], threshold: float = 0.8) -> int:
    """The index of the sample optillm returns: the first text of the largest cluster."""
    return sorted(clusters(texts, threshold), key=len, reverse=True)[0][0]
