"""Program-aided verifier: the model writes a program for the question; its output checks answers.

1) ask the model (as verifier) for `programs` short Python programs that print the answer —
   one batched request;
2) run each in the sandbox (separate process, resource limits, no network, throw-away dir);
   where kernel isolation is missing it refuses, unless built with `unsafe_exec=True` (the
   operator's `--unsafe-exec`, passed down through `solve`);
3) the programs' majority output is the reference; a candidate scores 1.0 if its final answer is
   equivalent to it, 0.0 if not, and 0.5 when no program produced an answer.

Reference: Gao et al. 2023, "PAL: Program-aided Language Models", arXiv:2211.10435.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime.compute.ledger import Ledger
    >>> program = "```python\\nprint(3 * 12 - 10)\\n```"
    >>> ledger = Ledger(FakeBackend([program]))
    >>> ProgramVerifier().score("apples?", ["\\\\boxed{26}", "\\\\boxed{24}"], ledger)
    [1.0, 0.0]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from thinktime.answers.equivalence import equivalent
from thinktime.answers.extract import extract_answer
from thinktime.answers.voting import vote
from thinktime.backends.base import Backend
from thinktime.compute.ledger import Ledger
from thinktime.prompts import program_messages
from thinktime.sampling import SamplingParams
from thinktime.types import Request
from thinktime.verifiers.base import register_verifier
from thinktime.verifiers.sandbox import Limits, SandboxResult, run_python

_CODE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    """The last fenced code block, or the whole text when there is none."""
    blocks = _CODE.findall(text)
    return blocks[-1] if blocks else text


class ProgramVerifier:
    name = "program"

    def __init__(
        self,
        backend: Backend | None = None,
        programs: int = 1,
        limits: Limits | None = None,
        unsafe_exec: bool = False,
    ) -> None:
        self.backend = backend
        self.programs = programs
        self.limits = limits or Limits(cpu_seconds=2, wall_seconds=5)
        self.unsafe_exec = unsafe_exec  # run with process limits alone where namespaces are missing
        temperature = 0.0 if programs == 1 else 0.7
        self.params = SamplingParams(temperature=temperature, max_tokens=384)

    def reference(self, question: str, ledger: Ledger) -> tuple[str | None, list[str]]:
        """The programs' majority answer, and what each run ended with (for the record)."""
        request = Request(messages=program_messages(question), n=self.programs)
        [generation] = ledger.generate(
            [request], self.params, purpose="verify", backend=self.backend
        )
        codes = [extract_code(c.text) for c in generation.completions]
        with ThreadPoolExecutor(max_workers=4) as pool:
            runs = list(pool.map(self._run, codes))
        outputs = [
            extract_answer(r.stdout.strip().splitlines()[-1]) if r.ok and r.stdout.strip() else None
            for r in runs
        ]
        answer, _ = vote(outputs)
        return answer, [r.reason for r in runs]

    def _run(self, code: str) -> SandboxResult:
        return run_python(code, self.limits, unsafe_exec=self.unsafe_exec)

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        reference, _ = self.reference(question, ledger)
        if reference is None:
            return [0.5] * len(candidates)
        return [1.0 if equivalent(extract_answer(c), reference) else 0.0 for c in candidates]


@register_verifier("program", runs_code=True)
def _factory(**options: object) -> ProgramVerifier:
    return ProgramVerifier(**options)  # type: ignore[arg-type]
