"""Speculative decoding on the embedded engine: the target's decode speed with and without a draft.

The same GSM8K cot prompts go to the target model (default the 1.5B) one at a time (one slot,
greedy), first decoding alone, then with a draft model of the same tokenizer (default the 0.5B)
proposing `--draft-max` tokens per step. Each setting runs in a fresh engine in this process,
after a short warm-up request. Per setting it reports, summed over the prompts:
- decode tokens/s by llama.cpp's own clock: its counters `tokens_predicted_total` and
  `tokens_predicted_seconds_total`, read around each request (for one request that is its
  `timings.predicted_n / predicted_ms`, i.e. `predicted_per_second`), beside wall tokens/s;
- drafted and accepted tokens (`spec_decode_num_draft_tokens_total`,
  `spec_decode_num_accepted_tokens_total`) and the acceptance rate;
and whether every greedy output is the same with and without the draft. Run it alone on the
machine (llama.cpp's threads busy-wait; another job skews every figure): it holds `--lock`
while it measures so that two benchmarks never overlap.

    python benchmarks/speculative.py                      # 8 prompts × 256 tokens
    python benchmarks/speculative.py --prompts 1 --max-tokens 32
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench_lock import alone

from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.prompts import cot_messages
from thinktime.sampling import SamplingParams
from thinktime.tasks import load_task
from thinktime.types import Request

ROOT = Path(__file__).resolve().parents[1]
COUNTERS = {
    "tokens": "tokens_predicted_total",
    "decode_seconds": "tokens_predicted_seconds_total",
    "drafted": "spec_decode_num_draft_tokens_total",
    "accepted": "spec_decode_num_accepted_tokens_total",
}


def measure(
    model: str, draft: str | None, requests: list[Request], args: argparse.Namespace
) -> tuple[dict[str, float], list[str]]:
    """One fresh engine: the requests one at a time; summed counters, wall time, each text."""
    backend = LlamaCppBackend.from_reference(
        model, n_parallel=1, n_threads=args.threads, context_per_sequence=2048,
        draft=draft, draft_max=args.draft_max, draft_min=args.draft_min,
    )  # fmt: skip
    params = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    backend.generate([Request(messages=cot_messages("2+2?"))], params.with_(max_tokens=4))
    totals = dict.fromkeys([*COUNTERS, "wall_seconds", "completion_tokens"], 0.0)
    texts = []
    for request in requests:
        before = backend.engine_stats()
        started = time.perf_counter()
        [generation] = backend.generate([request], params)
        totals["wall_seconds"] += time.perf_counter() - started
        after = backend.engine_stats()
        for name, counter in COUNTERS.items():
            totals[name] += after.get(counter, 0.0) - before.get(counter, 0.0)
        [completion] = generation.completions
        totals["completion_tokens"] += completion.completion_tokens
        texts.append(completion.text)
    del backend
    return totals, texts


def row(label: str, t: dict[str, float]) -> str:
    decode = t["tokens"] / max(t["decode_seconds"], 1e-9)
    wall = t["completion_tokens"] / max(t["wall_seconds"], 1e-9)
    rate = f"{t['accepted'] / t['drafted']:.2f}" if t["drafted"] else "–"
    return (
        f"| {label} | {t['tokens']:.0f} | {decode:.2f} | {wall:.2f} | {t['wall_seconds']:.1f} "
        f"| {t['drafted']:.0f} | {t['accepted']:.0f} | {rate} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="the target model")
    parser.add_argument("--draft", default="qwen2.5-coder-0.5b", help="the draft (or ngram-…)")
    parser.add_argument("--prompts", type=int, default=8, help="GSM8K test questions")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--draft-max", type=int, default=None, help="default: llama.cpp's")
    parser.add_argument("--draft-min", type=int, default=None, help="default: llama.cpp's")
    parser.add_argument("--threads", type=int, default=None, help="default: every core")
    parser.add_argument("--lock", type=Path, default=Path("/tmp/thinktime-bench.lock"))
    args = parser.parse_args()
    os.environ.setdefault("THINKTIME_DATA", str(ROOT.parent / "shared" / "data"))
    task = load_task("gsm8k", limit=args.prompts)
    requests = [Request(messages=cot_messages(p.question)) for p in task.problems]
    with alone(args.lock):
        plain, plain_texts = measure(args.model, None, requests, args)
        drafted, drafted_texts = measure(args.model, args.draft, requests, args)
    same = sum(a == b for a, b in zip(plain_texts, drafted_texts, strict=True))
    speedup = (drafted["tokens"] / drafted["decode_seconds"]) / (
        plain["tokens"] / plain["decode_seconds"]
    )
    wall = plain["wall_seconds"] / drafted["wall_seconds"]
    print(
        f"{args.model}, {len(requests)} GSM8K cot prompts one at a time, greedy, "
        f"max_tokens {args.max_tokens}, draft_max {args.draft_max or 'default'}\n"
    )
    print("| setting | tokens | decode tok/s (llama.cpp) | wall tok/s | wall s | drafted "
          "| accepted | acceptance |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(row("alone", plain))
    print(row(f"draft {args.draft}", drafted))
    print(
        f"\ndecode speed with the draft: {speedup:.2f}x (wall time {wall:.2f}x); "
        f"greedy outputs identical: {same}/{len(requests)}"
    )


if __name__ == "__main__":
    main()
