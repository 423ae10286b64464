"""What top-k logprobs cost the embedded engine: the same batch with and without them, one run.

DeepConf reads each token's top-20 logprobs. llama.cpp computes them with a softmax over the
vocabulary for every token of every sequence and sends the alternatives back, so the question
is how much decode speed that costs. Every sample here is exactly `--tokens` long
(`ignore_eos`), greedy and seeded, so only the logprobs differ; each setting runs `--repeats`
times, interleaved, on one engine, and the medians are compared.

    python benchmarks/logprob_cost.py --sequences 16 --tokens 128 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.sampling import SamplingParams
from thinktime.types import Message, Request

PROMPT = "Natalia sold clips to 48 of her friends in April, and then she sold half as many " \
    "clips in May. How many clips did Natalia sell altogether in April and May?"  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--sequences", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    backend = LlamaCppBackend.from_reference(args.model, n_parallel=args.sequences)
    request = Request(messages=(Message("user", PROMPT),), n=args.sequences)
    settings = {"no logprobs": 0, "top-1": 1, "top-20": 20}
    rates: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(args.repeats):
        for name, k in settings.items():
            params = SamplingParams(
                max_tokens=args.tokens, ignore_eos=True, temperature=0.7, seed=1,
                logprobs=k > 0, top_logprobs=k if k > 1 else 0,
            )  # fmt: skip
            started = time.perf_counter()
            [generation] = backend.generate([request], params)
            seconds = time.perf_counter() - started
            tokens = sum(c.completion_tokens for c in generation.completions)
            rates[name].append(tokens / seconds)
    base = statistics.median(rates["no logprobs"])
    print(f"{args.model} · {args.sequences} sequences × {args.tokens} tokens · median of "
          f"{args.repeats}")  # fmt: skip
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:>12}: {rate:6.1f} tok/s  ({rate / base:.2f}× no logprobs)")


if __name__ == "__main__":
    main()
