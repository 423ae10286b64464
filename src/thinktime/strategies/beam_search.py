"""`beam_search`: step-level beam search guided by a verifier; all beams expand in one batch.

Keeps the `beams` best partial solutions across the whole search after every step (global
top-k), each expanded `expand` times. See `step_search` for the loop.

Reference: Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally can be More Effective
than Scaling Model Parameters", arXiv:2408.03314; Xie et al. 2023, arXiv:2305.00633.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):
    ...     if request.prompt is None:  # the judge grading steps
    ...         return "yes" if "36" in request.messages[1].content else "no"
    ...     if "12 =" in request.prompt:  # second step: finish
    ...         return "\\\\boxed{26}"
    ...     return ["3 * 12 = 36", "3 * 12 = 35"][index % 2]
    >>> solve("apples?", backend=FakeBackend(script), strategy="beam_search", beams=2).answer
    '26'
"""

from __future__ import annotations

from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.strategies.step_search import Node, StepSearchParams, step_search


def top_k(children: list[Node], params: StepSearchParams) -> list[Node]:
    """The `beams` best children overall (ties: earliest)."""
    return sorted(children, key=lambda n: -n.score)[: params.beams]


@register_strategy(
    "beam_search",
    "Step-level beam search: keep the best partial solutions by verifier score.",
    "Snell et al. 2024, arXiv:2408.03314",
    StepSearchParams,
    samples=lambda p: p.beams * p.expand,  # every kept beam expanded in one call
    steps=True,
    uses_verifier=True,
    facts=("steps", "finished"),
)
def beam_search(question: str, ctx: Context, params: StepSearchParams) -> Outcome:
    return step_search(question, ctx, params, top_k)
