"""`dvts`: diverse verifier tree search — `beams` independent subtrees, each greedy on its own.

Each subtree keeps only its best child after every step, so one strong early prefix cannot take
over every beam as it does in beam search; diversity survives to the final vote. See
`step_search` for the loop.

Reference: Beeching, Tunstall & Rush 2024, "Scaling test-time compute with open models"
(Hugging Face, search-and-learn), building on Snell et al. 2024, arXiv:2408.03314.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):
    ...     if request.prompt is None:
    ...         return "yes"
    ...     return "\\\\boxed{26}"
    >>> solve("apples?", backend=FakeBackend(script), strategy="dvts", beams=3).answer
    '26'
"""

from __future__ import annotations

from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.strategies.step_search import Node, StepSearchParams, step_search


def best_per_subtree(children: list[Node], params: StepSearchParams) -> list[Node]:
    """The best child of each subtree (ties: earliest)."""
    best: dict[int, Node] = {}
    for node in children:
        if node.group not in best or node.score > best[node.group].score:
            best[node.group] = node
    return list(best.values())


@register_strategy(
    "dvts",
    "Diverse verifier tree search: independent subtrees, each keeps its best step.",
    "Beeching et al. 2024 (HF search-and-learn); Snell et al. 2024, arXiv:2408.03314",
    StepSearchParams,
    samples=lambda p: p.beams * p.expand,  # every subtree expanded in one call
    steps=True,
    uses_verifier=True,
    facts=("steps", "finished"),
)
def dvts(question: str, ctx: Context, params: StepSearchParams) -> Outcome:
    return step_search(question, ctx, params, best_per_subtree)
