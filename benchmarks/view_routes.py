"""How fast the viewer's routes answer on a big store: 10,000 questions × 16 samples.

Builds the store directly through the `Store` API (no model: the rows are synthetic — answers
drawn so about 60% of samples agree with the gold), then times, on a cold viewer (nothing
cached) and a warm one (the store's derived tables cached), the first page of the questions
route, a filtered page, one question, and the runs route. The target: the first page under
300 ms on 2 cores.

    PYTHONPATH=src python benchmarks/view_routes.py [--questions 10000] [--samples 16]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from thinktime.bench.store import SampleRow, Store
from thinktime.view.app import create_view_app


def build(path: Path, questions: int, samples: int, seed: int = 0) -> None:
    """One self_consistency run of `questions` results with `samples` samples each."""
    rng = random.Random(seed)
    store = Store(path)
    for i in range(questions):
        gold = str(rng.randint(1, 500))
        pool = []
        for _ in range(samples):
            right = rng.random() < 0.6
            answer = gold if right else str(rng.randint(1, 500))
            text = f"Step one.\nStep two: add them up.\nSo the answer is \\boxed{{{answer}}}."
            pool.append(SampleRow(text, answer, "correct" if right else "wrong", "stop", 60))
        answer = max(set(s.answer or "" for s in pool), key=[s.answer for s in pool].count)
        store.add(
            {"task": "synthetic", "question_id": f"synthetic/{i}", "model": "m",
             "config": f"self_consistency:n={samples}", "strategy": "self_consistency",
             "params": {"n": samples}, "gold": gold, "answer": answer,
             "verdict": "correct" if answer == gold else "wrong", "prompt_tokens": 80,
             "completion_tokens": 60 * samples, "flops": 1e11 * samples, "seconds": 2.0},
            pool,
        )  # fmt: skip
    store.close()


def timed(client: TestClient, url: str, repeats: int = 1) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        reply = client.get(url)
        times.append(1000 * (time.perf_counter() - started))
        assert reply.status_code == 200, reply.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.db"
        started = time.perf_counter()
        build(path, args.questions, args.samples)
        built = time.perf_counter() - started
        size = path.stat().st_size / 1e6
        print(f"store: {args.questions} × {args.samples} samples ({size:.0f} MB), {built:.1f} s")
        routes = {
            "questions, first page": "/api/stores/big/questions?run=0",
            "questions, wrong, by agreement": (
                "/api/stores/big/questions?run=0&verdict=wrong&sort=agreement&order=desc"
            ),
            "questions, page 100": "/api/stores/big/questions?run=0&page=100",
            "one question": "/api/stores/big/questions/synthetic/1234",
            "runs": "/api/stores/big/runs",
        }
        client = TestClient(create_view_app([path], warm=False))  # cold: nothing derived yet
        print(f"{'route':34} {'cold ms':>9} {'warm ms (median of 20)':>24}")
        for name, url in routes.items():
            cold = timed(client, url)[0]
            warm = statistics.median(timed(client, url, 20))
            print(f"{name:34} {cold:9.1f} {warm:24.1f}")


if __name__ == "__main__":
    main()
