"""The thinking student's training set, rebuilt from the two committed teacher stores.

90 verified traces of the 1.5B teacher (`cot`), written as `<think>…</think>` + answer with every
other question asked bare (`thinktime distill traces --think` does the same from one store):
- all 69 verified chain_sum traces of questions 200-278 (`teacher-chain_sum.db`; the curve
  is measured on questions 0-99, never trained on);
- the 21 shortest verified GSM8K-train traces of `docs/results/distill/teacher.db`.

    python docs/results/thinking_student/make_traces.py runs/distill/think-small.jsonl
    thinktime distill train --traces runs/distill/think-small.jsonl -m qwen2.5-coder-0.5b \\
        --out runs/distill/think --epochs 2 --lora-r 8 --batch-size 4 --grad-accum 1 \\
        --max-length 384 --held-out 8
"""

import random
import sys
from pathlib import Path

from thinktime.bench.store import Store
from thinktime.distill.traces import Trace, TraceFilter, select_traces, write_jsonl
from thinktime.tasks import load_task

HERE = Path(__file__).parent
CHAIN = "reasoning_gym:chain_sum:min_terms=2,max_terms=3,min_digits=2,max_digits=2"


def verified(store: Path, spec: str, **options: object) -> list[Trace]:
    """The 1.5B's verified `cot` traces of `spec`'s questions in `store`."""
    task, results = load_task(spec, **options), Store(store, create=False, readonly=True)
    ids = {p.id for p in task.problems}
    rows = [
        {**r, "samples": results.samples(r["id"])}
        for r in results.results(task.name)
        if r["model"] == "qwen2.5-coder-1.5b" and r["config"] == "cot" and r["question_id"] in ids
    ]
    return select_traces(rows, task, TraceFilter(max_tokens=400))[0]


def main(out: str) -> None:
    chain = verified(HERE / "teacher-chain_sum.db", CHAIN, size=1000, offset=200, limit=400)
    gsm = verified(
        HERE.parent / "distill" / "teacher.db", "gsm8k:train",
        data_dir=Path(__file__).resolve().parents[3].parent / "shared" / "data", limit=300,
    )  # fmt: skip
    gsm = sorted(gsm, key=lambda t: len(t.text))[:21]  # the shortest worked solutions
    traces = chain + gsm
    random.Random(1).shuffle(traces)
    print(write_jsonl(traces, out, think=True), len(chain), len(gsm))


if __name__ == "__main__":
    main(sys.argv[1])
