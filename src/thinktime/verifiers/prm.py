"""Process reward model (PRM): scores every reasoning step of a candidate, then aggregates.

Math-Shepherd-style PRMs are causal LMs trained to put a "good" or "bad" token after each step
tag; a step's score is P(good) / (P(good) + P(bad)) at its tag (Wang et al. 2024, "Math-Shepherd",
arXiv:2312.08935; Lightman et al. 2023, "Let's Verify Step by Step", arXiv:2305.20050). Steps
are split on blank lines. A solution's score aggregates its step scores: `min` (the weakest
step), `prod` (all steps right) or `last`.

The model loads lazily through transformers, from a Hugging Face id where the network allows or
a local directory; it runs on the GPU when one is present, else the CPU. Needs the `prm` extra
(`pip install 'thinktime[prm]'`: torch + transformers).

    >>> aggregate([0.9, 0.4, 0.8], "min"), round(aggregate([0.9, 0.5], "prod"), 2)
    (0.4, 0.45)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any, Literal

from thinktime.compute.ledger import Ledger
from thinktime.errors import ThinktimeError
from thinktime.verifiers.base import register_verifier

Aggregation = Literal["min", "prod", "last"]
DEFAULT_PRM = "peiyi9979/math-shepherd-mistral-7b-prm"


def aggregate(scores: Sequence[float], how: Aggregation) -> float:
    if not scores:
        return 0.5
    if how == "min":
        return min(scores)
    if how == "prod":
        return math.prod(scores)
    return scores[-1]


def split_steps(solution: str) -> list[str]:
    return [step.strip() for step in solution.split("\n\n") if step.strip()]


class PRMVerifier:
    """A token-logit PRM (Math-Shepherd format) run through transformers."""

    name = "prm"

    def __init__(
        self,
        model: str = DEFAULT_PRM,
        aggregation: Aggregation = "min",
        step_tag: str = "ки",
        good_token: str = "+",
        bad_token: str = "-",
        device: str | None = None,
        tokenizer: Any = None,
    ) -> None:
        self.model_id = model
        self.aggregation = aggregation
        self.step_tag = step_tag
        self.good_token, self.bad_token = good_token, bad_token
        self.device = device
        self._tokenizer = tokenizer
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ThinktimeError(
                "the PRM verifier needs torch and transformers: pip install 'thinktime[prm]'"
            ) from None
        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        try:
            self._tokenizer = self._tokenizer or AutoTokenizer.from_pretrained(self.model_id)
            model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype)
        except OSError as exc:
            raise ThinktimeError(
                f"could not load PRM {self.model_id!r} ({exc.__class__.__name__}); download it "
                "where the network allows and pass its local directory as model="
            ) from None
        self._model = model.to(self.device).eval()  # type: ignore[arg-type]

    def _token_id(self, text: str) -> int:
        ids = self._tokenizer.encode(text, add_special_tokens=False)
        return int(ids[-1])

    def step_scores(
        self, question: str, solution: str, ledger: Ledger | None = None
    ) -> list[float]:
        """P(good) at each step tag of `solution`; the forward pass is charged to `ledger`."""
        import torch

        with self._lock:
            if self._model is None:
                self._load()
        steps = split_steps(solution)
        text = f"{question} " + "".join(f"{step} {self.step_tag}\n" for step in steps)
        tag_id = self._token_id(f" {self.step_tag}")
        good, bad = self._token_id(self.good_token), self._token_id(self.bad_token)
        ids = torch.tensor([self._tokenizer.encode(text)], device=self.device)
        with torch.no_grad():
            logits = self._model(ids).logits[0, :, [good, bad]]
        if ledger is not None:
            n_params = sum(p.numel() for p in self._model.parameters())
            ledger.charge("verify", ids.shape[1], 2 * n_params * ids.shape[1])
        probs = logits.float().softmax(dim=-1)[:, 0]
        return [float(p) for p in probs[ids[0] == tag_id]]

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        how: Aggregation = "last" if partial else self.aggregation
        return [aggregate(self.step_scores(question, c, ledger), how) for c in candidates]


@register_verifier("prm")
def _factory(**options: Any) -> PRMVerifier:
    return PRMVerifier(**options)
