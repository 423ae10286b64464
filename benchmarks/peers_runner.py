"""One peer method on a list of questions, run with the peer's own code in the peers' venv.

benchmarks/peers.py starts this file with the peers' Python (`runs/peers-venv/bin/python`, which
has optillm and its-hub but not thinktime) and writes one job to its stdin, as JSON:

    {"method": "its_hub:particle_filtering", "base_url": "http://127.0.0.1:PORT/v1",
     "model": "qwen2.5-coder-0.5b", "system": "...",
     "questions": [{"id": "...", "question": "..."}],
     "max_tokens": 256, "samples": 4, "step_tokens": 128, "max_steps": 10, "judge_tokens": 64,
     "mcts_simulations": 2, "mcts_depth": 1}

It answers on stdout, one JSON line each: first {"config": "..."} (the method's knobs), then
per question {"id", "text", "reported_tokens", "seconds", "error"}, where `reported_tokens` is
the completion tokens the peer itself counted (None where it counts none) and `error` is the
peer's exception, in one line, if it raised (the question then counts as wrong). Whatever the
peers print goes to stderr. Each method, in the peer's own words:

- `optillm:self_consistency`: `AdvancedSelfConsistency(num_samples=samples)` (what optillm's
  `self_consistency` approach builds, with its fixed 5 samples made `samples`): samples one at
  a time, clusters them by string similarity, answers with the largest cluster's first text;
- `optillm:bon`: the proxy's own dispatch (`execute_single_approach("bon")`, `best_of_n =
  samples`): n samples in one request, then the model rates each 0–10, the best rating wins;
- `optillm:mcts`: `execute_single_approach("mcts")`: dialogue MCTS — expand 3 replies, simulate
  a user turn, the model scores the conversation 0–1 (`mcts_simulations`, `mcts_depth`);
- `optillm:moa`: mixture of agents — 3 samples, a critique, a final answer;
- `its_hub:self_consistency`: `SelfConsistency` voting on the final answer (`final_answer`);
- `its_hub:best_of_n`: `BestOfN` with its-hub's `LLMJudge` (the same model scores 0–10);
- `its_hub:particle_filtering`: `ParticleFiltering` with steps ending at a blank line, a step
  with `\\boxed` ending a particle; its reward is a process reward model, and its-hub's own
  runs one in vLLM on a GPU, so here `JudgePRM` asks its-hub's `LLMJudge` (the same model
  through the same server) to score the steps so far 0–10, read as a reward of score / 10.

    >>> final_answer("so 3 + 4 = 7, and \\\\boxed{7}.")
    '7'
    >>> final_answer("the total is 1,204 apples")
    '1204'
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

METHODS = (
    "optillm:self_consistency",
    "optillm:bon",
    "optillm:mcts",
    "optillm:moa",
    "its_hub:self_consistency",
    "its_hub:best_of_n",
    "its_hub:particle_filtering",
)

# what one question's run returns: the final text and the completion tokens the peer reported
Answer = tuple[str, int | None]


def final_answer(text: str) -> str:
    """What its-hub's self-consistency votes on: the last `\\boxed{…}` (braces balanced), else
    the last number (thousands separators dropped), else the stripped text."""
    start = text.rfind("\\boxed{")
    if start >= 0:
        depth, i = 1, start + len("\\boxed{")
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[i:j].strip()
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)
    return numbers[-1].replace(",", "") if numbers else text.strip()


# --- optillm: its approaches, called as its proxy calls them ---------------------------------


def optillm_method(job: dict[str, Any]) -> tuple[str, Callable[[str], Answer]]:
    import optillm.server as server
    from openai import OpenAI
    from optillm.self_consistency import AdvancedSelfConsistency

    client = OpenAI(base_url=job["base_url"], api_key="none")
    model, system, name = job["model"], job["system"], job["method"].split(":")[1]
    config: dict[str, Any] = {"max_tokens": job["max_tokens"]}
    if name == "self_consistency":

        def run(question: str) -> Answer:
            sc = AdvancedSelfConsistency(client, model, job["samples"], request_config=config)
            result = sc.evaluate(system, question)["aggregated_result"]
            clusters = result["clusters"]
            text = clusters[0]["answer"] if clusters else "No consistent answer found."
            return text, sc.self_consistency_completion_tokens

        return f"num_samples={job['samples']}, max_tokens={job['max_tokens']}", run
    if name == "bon":
        server.server_config["best_of_n"] = job["samples"]
        described = f"best_of_n={job['samples']}, max_tokens={job['max_tokens']}"
    elif name == "mcts":
        config.update(mcts_simulations=job["mcts_simulations"], mcts_depth=job["mcts_depth"])
        described = (
            f"simulations={job['mcts_simulations']}, depth={job['mcts_depth']}, "
            f"max_tokens={job['max_tokens']}"
        )
    else:
        described = f"max_tokens={job['max_tokens']}"

    def dispatch(question: str) -> Answer:
        text, tokens = server.execute_single_approach(name, system, question, client, model, config)
        return str(text), int(tokens)

    return described, dispatch


# --- its-hub: its algorithms on its OpenAI-compatible LM --------------------------------------


def its_hub_method(job: dict[str, Any]) -> tuple[str, Callable[[str], Answer]]:
    from its_hub import BestOfN, LLMJudge, OpenAICompatibleLanguageModel, SelfConsistency
    from its_hub.api import AbstractProcessRewardModel, ChatMessage
    from its_hub.core.algorithms.particle_gibbs import ParticleFiltering
    from its_hub.core.lms.step_generation import StepGeneration

    def lm(system: str | None, tokens: int) -> Any:
        return OpenAICompatibleLanguageModel(
            endpoint=job["base_url"], api_key="none", model_name=job["model"],
            system_prompt=system, max_completion_tokens=tokens,
        )  # fmt: skip

    name, n = job["method"].split(":")[1], job["samples"]
    judge = LLMJudge(lm(None, job["judge_tokens"]))

    class JudgePRM(AbstractProcessRewardModel):
        """its-hub's LLMJudge as a process reward: the steps so far scored 0–10, over 10."""

        def score(self, prompt: str, steps: list[str]) -> list[float]:
            return asyncio.run(self.ascore(prompt, steps))

        async def ascore(self, prompt: str, steps: list[str]) -> list[float]:
            scores = await judge.ascore(
                [[ChatMessage("user", prompt), ChatMessage("assistant", s)] for s in steps]
            )
            return [min(1.0, max(0.0, float(s) / 10)) for s in scores]

    if name == "particle_filtering":
        steps = StepGeneration(
            max_steps=job["max_steps"], step_token="\n\n", stop_token="\\boxed", temperature=0.8
        )
        algorithm: Any = ParticleFiltering(steps, JudgePRM())
        model = lm(job["system"], job["step_tokens"])
        described = (
            f"particles={n}, max_steps={job['max_steps']}, step_tokens={job['step_tokens']}, "
            f"LLMJudge PRM ({job['judge_tokens']} tokens)"
        )
    elif name == "best_of_n":
        algorithm, model = BestOfN(judge), lm(job["system"], job["max_tokens"])
        described = (
            f"n={n}, max_tokens={job['max_tokens']}, LLMJudge ({job['judge_tokens']} tokens)"
        )
    else:
        algorithm, model = SelfConsistency(final_answer), lm(job["system"], job["max_tokens"])
        described = f"n={n}, max_tokens={job['max_tokens']}"

    def run(question: str) -> Answer:
        result = asyncio.run(
            algorithm.ainfer(model, question, budget=n, return_response_only=False)
        )
        usage = getattr(result, "usage", None)  # particle filtering reports none
        text = result.the_one.get("content") or ""
        return text, None if usage is None else int(usage.completion_tokens)

    return described, run


def main() -> None:
    out = os.fdopen(os.dup(1), "w")  # our answers; the peers' own prints go to stderr
    os.dup2(2, 1)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    job = json.loads(sys.stdin.read())
    if job["method"] not in METHODS:
        raise SystemExit(f"unknown peer method {job['method']!r}; one of: {', '.join(METHODS)}")
    build = optillm_method if job["method"].startswith("optillm:") else its_hub_method
    described, run = build(job)
    print(json.dumps({"config": described}), file=out, flush=True)
    for item in job["questions"]:
        started, error = time.perf_counter(), None
        try:
            text, tokens = run(item["question"])
        except Exception as exc:  # the peer failed on this question: it counts as wrong
            text, tokens, error = "", None, f"{type(exc).__name__}: {exc}".splitlines()[0]
        line = {"id": item["id"], "text": text, "reported_tokens": tokens,
                "seconds": time.perf_counter() - started, "error": error}  # fmt: skip
        print(json.dumps(line), file=out, flush=True)


if __name__ == "__main__":
    main()
