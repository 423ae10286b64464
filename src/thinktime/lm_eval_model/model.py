"""`ThinktimeLM`: lm-eval's `LM` whose every generate request is one `thinktime.solve` call.

lm-eval builds it once per run from `--model_args key=value,…`; each key means one thing:

- `model` — a thinktime model spec: `fake`, `qwen2.5-coder-0.5b`, `openai:NAME`, a .gguf path
  (default: the embedded model);
- `strategy` (default `cot`) and `verifier` (for `best_of_n`, `beam_search`, `dvts`);
- a cap on each answer: `max_completion_tokens`, `max_flops`, `max_seconds`, `max_dollars`,
  `max_samples` (thinktime's `Budget`);
- an option of the model's backend (`n_parallel`, `base_url`, `timeout`), used once to build it;
- anything else is a strategy parameter (`n=8`) or a sampling field (`temperature`,
  `max_tokens`, `seed`), each name resolved to exactly one of them, as `solve` does.

How a run goes:

1) the args are parsed once, here, into the typed call: a misspelt name fails when lm-eval
   builds the model, not on the first question;
2) the backend is built once, here, and every request shares it;
3) each request's prompt is the question: the task's `doc_to_text` (few-shot examples
   included), or with `--apply_chat_template` the chat itself, whose last user turn is the
   question and the turns before it the history. The task's `max_gen_toks` caps each sample
   unless `max_tokens` was given; its `until` and greedy settings are not used, since the
   strategy prompts, samples and extracts its answer itself;
4) the reply lm-eval filters and scores is the strategy's final answer (`26`, not the
   reasoning), and each answer's bill is added up in `bill`, which lm-eval writes to its
   results as `config.thinktime`.

Loglikelihood requests (multiple-choice tasks scored by log-probabilities) are refused: a
strategy generates and votes; it scores no given continuation.

    >>> from lm_eval.api.instance import Instance
    >>> lm = ThinktimeLM(model="fake", strategy="self_consistency", n=3)
    >>> ask = Instance("generate_until", {}, ("6 x 7?", {"until": ["\\n"]}), 0)
    >>> lm.generate_until([ask], disable_tqdm=True), lm.bill.samples
    (['42'], 3)
"""

from __future__ import annotations

import json
from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from pydantic import ValidationError
from tqdm import tqdm

from thinktime.api import resolve_params, solve
from thinktime.backends.base import BACKENDS, make_backend, split_spec
from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.strategies import get_strategy
from thinktime.types import Bill, Message

# what lm-eval adds to every model's args (`--batch_size`, `--device`): one question at a time
LM_EVAL_EXTRAS = ("batch_size", "max_batch_size", "device")
ROLES = ("system", "user", "assistant")


class ChatPrompt(str):
    """A request's chat (`--apply_chat_template`), held as its messages' JSON."""


@register_model("thinktime")
class ThinktimeLM(LM):
    """lm-eval's model `thinktime` (see the module docstring)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        strategy: str = "cot",
        verifier: str | None = None,
        **args: Any,
    ) -> None:
        super().__init__()
        for extra in LM_EVAL_EXTRAS:
            args.pop(extra, None)
        # 1) one typed call: budget caps, backend options, then strategy params and sampling
        budget = {k: args.pop(k) for k in list(args) if k in Budget.model_fields}
        try:
            self.budget = Budget(**budget) if budget else None
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ThinktimeError(f"bad budget {error['loc'][0]}: {error['msg']}") from None
        options: dict[str, Any] = BACKENDS.get_or_fail(split_spec(model)[0]).accepted(args)
        shortcuts = {k: v for k, v in args.items() if k not in options}
        self.spec = get_strategy(strategy)
        self.params, self.sampling = resolve_params(self.spec, None, None, shortcuts)
        self.own_max_tokens = "max_tokens" in shortcuts
        self.verifier = verifier
        # 2) the engine, once
        self.backend = make_backend(model, **options)
        self.bill = Bill()
        self.answers = 0

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """One `solve` per request; its final answer is the reply."""
        replies = []
        for request in tqdm(requests, disable=disable_tqdm, desc="thinktime"):
            context, gen_kwargs = request.args
            question, history = _conversation(context)
            sampling = self.sampling
            if "max_gen_toks" in gen_kwargs and not self.own_max_tokens:
                sampling = sampling.with_(max_tokens=int(gen_kwargs["max_gen_toks"]))
            result = solve(
                question, backend=self.backend, strategy=self.spec.name, params=self.params,
                sampling=sampling, budget=self.budget, verifier=self.verifier, history=history,
            )  # fmt: skip
            self.bill, self.answers = self.bill + result.bill, self.answers + 1
            reply = result.answer or ""
            self.cache_hook.add_partial("generate_until", request.args, reply)
            replies.append(reply)
        return replies

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        raise NotImplementedError(_NO_LOGLIKELIHOOD)

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        raise NotImplementedError(_NO_LOGLIKELIHOOD)

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The chat as it is (thinktime's backend applies the model's template)."""
        if not add_generation_prompt:
            raise ThinktimeError(
                "thinktime answers a question; it cannot continue a prefilled reply"
            )
        return ChatPrompt(json.dumps(chat_history, ensure_ascii=False))

    @property
    def tokenizer_name(self) -> str:
        """Names the request cache of a chat-templated run."""
        return f"thinktime-{self.backend.name}"

    def get_model_info(self) -> dict[str, Any]:
        """What lm-eval adds to `results["config"]`: the run and its whole bill."""
        return {
            "thinktime": {
                "model": self.backend.name, "strategy": self.spec.name,
                "params": self.params.model_dump(), "answers": self.answers,
                "bill": self.bill.to_dict(),
            }
        }  # fmt: skip


_NO_LOGLIKELIHOOD = (
    "the thinktime model generates answers with a strategy and scores no given continuation; "
    "run tasks whose output_type is generate_until (e.g. gsm8k), not loglikelihood or "
    "multiple_choice ones"
)


def _conversation(context: str) -> tuple[str, tuple[Message, ...]]:
    """(the question, the turns before it) of one request's prompt."""
    if not isinstance(context, ChatPrompt):
        return context, ()
    turns = json.loads(context)
    for turn in turns:
        if turn.get("role") not in ROLES:
            raise ThinktimeError(f"a chat turn's role must be one of {ROLES}, got {turn!r}")
    if not turns or turns[-1]["role"] != "user":
        raise ThinktimeError("the chat must end with the user's question")
    history = tuple(Message(t["role"], t["content"]) for t in turns[:-1])
    return turns[-1]["content"], history
