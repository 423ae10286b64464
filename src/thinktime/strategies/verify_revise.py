"""`verify_revise`: solve, check your own work, revise until the check passes or rounds run out.

1) solve with one chain-of-thought sample;
2) the model re-does the solution as a checker and ends with `VERDICT: CORRECT/INCORRECT`
   (billed as verifier tokens);
3) on INCORRECT, the solver sees the critique and writes a revised solution; back to 2.
The answer is the last solution's. `details["rounds"]` records every verdict.

Reference: Madaan et al. 2023, "Self-Refine", arXiv:2303.17651; Weng et al. 2023,
"Large Language Models are Better Reasoners with Self-Verification", arXiv:2212.09561.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> script = ["\\\\boxed{24}", "wrong. VERDICT: INCORRECT", "\\\\boxed{26}", "VERDICT: CORRECT"]
    >>> r = solve("apples?", backend=FakeBackend(script), strategy="verify_revise")
    >>> r.answer, [x["verdict"] for x in r.details["rounds"]]
    ('26', ['incorrect', 'correct'])
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from thinktime.prompts import check_messages, revise_messages
from thinktime.strategies.base import Context, Outcome, register_strategy

_VERDICT = re.compile(r"VERDICT\W*(CORRECT|INCORRECT)", re.IGNORECASE)


def verdict(text: str) -> str:
    """`correct`, `incorrect`, or `unclear` from the checker's last VERDICT line."""
    found = _VERDICT.findall(text)
    return found[-1].lower() if found else "unclear"


class VerifyReviseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_rounds: int = Field(2, ge=1, le=16, description="Most check-and-revise rounds.")
    check_tokens: int = Field(384, ge=16, le=8192, description="Tokens allowed for each check.")


@register_strategy(
    "verify_revise",
    "Solve, check its own work, revise until the check passes or rounds run out.",
    "Madaan et al. 2023, arXiv:2303.17651",
    VerifyReviseParams,
    default_temperature=0.0,
    tokens=lambda p: (3.0, 2.0),
)
def verify_revise(question: str, ctx: Context, params: VerifyReviseParams) -> Outcome:
    [[solution]] = ctx.sample([ctx.messages(question)])
    solutions = [solution]
    rounds = []
    check_params = ctx.params.with_(max_tokens=params.check_tokens)
    for _ in range(params.max_rounds):
        [[check]] = ctx.sample(
            [check_messages(question, solution.text)], params=check_params, purpose="verify"
        )
        rounds.append(
            {"answer": solution.answer, "verdict": verdict(check.text), "check": check.text}
        )
        if rounds[-1]["verdict"] != "incorrect":
            break
        [[solution]] = ctx.sample(
            [revise_messages(ctx.messages(question), solution.text, check.text)]
        )
        solutions.append(solution)
    return Outcome(
        answer=solution.answer,
        samples=tuple(solutions),
        votes={solution.answer: 1.0} if solution.answer is not None else {},
        chosen=len(solutions) - 1,
        details={"rounds": rounds},
    )
