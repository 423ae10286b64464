"""Engines at load, as ratios measured in one run (run it alone: llama.cpp's threads busy-wait).

Parts (each prints its table; `all` runs them in order):
- `layouts` (a): the embedded engine with 16 slots, 16 different GSM8K cot questions at once vs
  the same questions one at a time (greedy, every sample exactly --tokens long), for the old
  layout (one unified KV cache, no flash attention) and today's default (a KV cache per slot,
  flash attention). Each layout runs in a fresh process. The engine's own counters say how many
  slots each decode step carried.
- `sweep` (a): a cot + self_consistency:n=8 sweep in one process through `run_sweep` (the real
  bench path); the engine's counters, read every --every seconds, give the decode rate and busy
  slots per step in the first and the last --window seconds.
- `server` (b): the same cot sweep through `--model openai:…` against llama.cpp's own HTTP server
  in another process (same slots, cache layout and threads) vs the embedded engine.
- `ray` (c): the same cot sweep on 2 Ray workers with one engine thread each vs one process with
  two threads.
- `project` (c): what the planner's roofline projects for the whole GSM8K test under the same
  configs on 8 nodes of vLLM (one H100 each), at the tokens per sample `sweep` measured.

    python benchmarks/engines.py layouts
    python benchmarks/engines.py sweep --questions 20 --window 180
    python benchmarks/engines.py server --questions 16
    python benchmarks/engines.py ray --questions 16
    python benchmarks/engines.py project --sample-tokens 243 --measured-rate 41.5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from thinktime.backends.base import make_backend
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.models.resolve import resolve_model
from thinktime.prompts import cot_messages
from thinktime.sampling import SamplingParams
from thinktime.tasks import Task, load_task
from thinktime.types import Request

MODEL = "qwen2.5-coder-0.5b"
ROOT = Path(__file__).resolve().parents[1]
console = Console()


def questions(count: int) -> Task:
    os.environ.setdefault("THINKTIME_DATA", str(ROOT.parent / "shared" / "data"))
    return load_task("gsm8k", limit=count)


# --- (a) cache layouts: 16 at once vs one at a time -------------------------------------------


def layout_run(unified: bool, flash: bool, tokens: int, alone: int) -> dict[str, float]:
    """In this process: one engine, `alone` questions one at a time, then 16 at once."""
    backend = LlamaCppBackend.from_reference(
        MODEL, n_parallel=16, kv_unified=unified, flash_attention=flash
    )
    task = questions(16)
    params = SamplingParams(max_tokens=tokens, temperature=0.0, ignore_eos=True)
    requests = [Request(messages=cot_messages(p.question)) for p in task.problems]
    backend.generate([Request(messages=cot_messages("2+2?"))], params.model_copy(
        update={"max_tokens": 8}))  # fmt: skip

    def timed(batch: list[Request]) -> tuple[float, int, float, float]:
        before = backend.engine_stats()
        started = time.perf_counter()
        generations = backend.generate(batch, params)
        seconds = time.perf_counter() - started
        after = backend.engine_stats()
        made = sum(c.completion_tokens for g in generations for c in g.completions)
        steps = after["n_decode_total"] - before["n_decode_total"]
        busy = after.get("n_busy_slots_per_decode", 0.0)
        return seconds, made, steps, busy

    one = [timed([r]) for r in requests[:alone]]
    single_rate = sum(m for _, m, _, _ in one) / sum(s for s, _, _, _ in one)
    seconds, made, steps, busy = timed(requests)
    return {
        "single_tok_s": single_rate,
        "many_tok_s": made / seconds,
        "ratio": made / seconds / single_rate,
        "tokens_per_step": made / max(steps, 1),
        "busy_slots_per_decode": busy,
    }


def layouts(args: argparse.Namespace) -> None:
    table = Table(title=f"16 cot questions at once vs one at a time ({args.tokens} tokens each)")
    for column in ("layout", "1 at a time tok/s", "16 at once tok/s", "ratio", "tokens/step"):
        table.add_column(column)
    rows = {}
    for name, unified, flash in (
        ("unified cache", True, False),
        ("cache per slot + FA", False, True),
    ):
        out = subprocess.run(
            [sys.executable, __file__, "layout-child", "--tokens", str(args.tokens),
             "--alone", str(args.alone), "--unified", str(int(unified)),
             "--flash", str(int(flash))],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rows[name] = row = json.loads(out.strip().splitlines()[-1])
        table.add_row(
            name, f"{row['single_tok_s']:.1f}", f"{row['many_tok_s']:.1f}",
            f"{row['ratio']:.2f}x", f"{row['tokens_per_step']:.1f}",
        )  # fmt: skip
    console.print(table)
    old, new = rows["unified cache"], rows["cache per slot + FA"]
    console.print(
        f"16 at once, per-slot + FA vs unified: {new['many_tok_s'] / old['many_tok_s']:.2f}x"
    )


# --- (a) a long sweep: does the engine slow down as it goes? ----------------------------------


class Sampler:
    """Reads the engine's counters every `every` seconds in a thread: (t, tokens, decode steps)."""

    def __init__(self, stats: Callable[[], dict[str, float]], every: float) -> None:
        self.stats, self.every = stats, every
        self.rows: list[tuple[float, float, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def read(self) -> None:
        s = self.stats()
        self.rows.append((time.monotonic(), s["tokens_predicted_total"], s["n_decode_total"]))

    def run(self) -> None:
        self.read()
        while not self.stop.wait(self.every):
            self.read()

    def window(self, start: float, end: float) -> tuple[float, float]:
        """Decode tokens/s and tokens per decode step between two times (nearest readings)."""
        inside = [r for r in self.rows if start <= r[0] <= end]
        (t0, k0, d0), (t1, k1, d1) = inside[0], inside[-1]
        return (k1 - k0) / max(t1 - t0, 1e-9), (k1 - k0) / max(d1 - d0, 1)


def sweep(args: argparse.Namespace) -> None:
    backend = LlamaCppBackend.from_reference(
        MODEL, n_parallel=16, kv_unified=args.unified, flash_attention=not args.unified
    )
    task = questions(args.questions)
    sampler = Sampler(backend.engine_stats, args.every)
    sampler.thread.start()
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(
            task, {MODEL: backend}, ["cot", "self_consistency:n=8"], Store(Path(tmp) / "s.db"),
            max_tokens=args.tokens,
        )  # fmt: skip
    sampler.stop.set()
    sampler.thread.join()
    sampler.read()
    start, end = sampler.rows[0][0], sampler.rows[-1][0]
    window = min(args.window, (end - start) / 2)
    first = sampler.window(start, start + window)
    last = sampler.window(end - window, end)
    total = sampler.rows[-1][1] - sampler.rows[0][1]
    table = Table(title=f"cot + self_consistency:n=8 on {args.questions} questions, one process")
    for column in ("window", "decode tok/s", "tokens per decode step"):
        table.add_column(column)
    table.add_row(f"first {window:.0f} s", f"{first[0]:.1f}", f"{first[1]:.1f}")
    table.add_row(f"last {window:.0f} s", f"{last[0]:.1f}", f"{last[1]:.1f}")
    console.print(table)
    console.print(
        f"sweep: {end - start:.0f} s, {total:.0f} tokens; last/first decode rate "
        f"{last[0] / first[0]:.2f}x ({'unified cache' if args.unified else 'cache per slot + FA'})"
    )


# --- (b) llama.cpp's server through the OpenAI backend vs the embedded engine -----------------


def cot_sweep(backend: object, model: str, task: Task, tokens: int) -> tuple[float, int]:
    """Wall seconds and completion tokens of a cot sweep through the real bench path."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.db")
        started = time.perf_counter()
        run_sweep(task, {model: backend}, ["cot"], store, max_tokens=tokens)  # type: ignore[dict-item]
        seconds = time.perf_counter() - started
        made = sum(r["completion_tokens"] for r in store.results())
    return seconds, made


def server(args: argparse.Namespace) -> None:
    task = questions(args.questions)
    path = resolve_model(MODEL)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "helpers" / "llama_server.py"), str(path), "16",
         "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        address = process.stdout.readline().strip()  # type: ignore[union-attr]
        client = make_backend(f"openai:{MODEL}", base_url=f"{address}/v1", max_concurrency=17)
        remote = cot_sweep(client, f"openai:{MODEL}", task, args.tokens)
    finally:
        process.kill()
        process.wait()
    embedded = cot_sweep(
        LlamaCppBackend.from_reference(MODEL, n_parallel=16), MODEL, task, args.tokens
    )
    table = Table(title=f"cot sweep, {args.questions} questions, ≤ {args.tokens} tokens")
    for column in ("engine", "wall s", "tokens", "tok/s"):
        table.add_column(column)
    for name, (seconds, made) in (("openai: → llama.cpp server", remote), ("embedded", embedded)):
        table.add_row(name, f"{seconds:.1f}", str(made), f"{made / seconds:.1f}")
    console.print(table)
    ratio = (remote[1] / remote[0]) / (embedded[1] / embedded[0])
    console.print(f"server / embedded tokens/s: {ratio:.2f}x")


# --- (c) Ray: 2 single-thread workers vs one process with 2 threads ---------------------------


def ray_part(args: argparse.Namespace) -> None:
    from thinktime.bench.ray_sweep import run_ray_sweep

    task = questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "ray.db")
        started = time.perf_counter()
        run_ray_sweep(
            task, [MODEL], ["cot"], store, workers=2, max_tokens=args.tokens,
            hints={"n_parallel": 16, "n_threads": 1},
        )  # fmt: skip
        ray_seconds = time.perf_counter() - started
        ray_made = sum(r["completion_tokens"] for r in store.results())
    one = cot_sweep(
        LlamaCppBackend.from_reference(MODEL, n_parallel=16, n_threads=2), MODEL, task, args.tokens
    )
    table = Table(title=f"cot sweep, {args.questions} questions, ≤ {args.tokens} tokens")
    for column in ("run", "wall s", "tokens", "tok/s"):
        table.add_column(column)
    table.add_row("Ray, 2 workers × 1 thread", f"{ray_seconds:.1f}", str(ray_made),
                  f"{ray_made / ray_seconds:.1f}")  # fmt: skip
    table.add_row("1 process × 2 threads", f"{one[0]:.1f}", str(one[1]), f"{one[1] / one[0]:.1f}")
    console.print(table)
    console.print(
        f"Ray / one process tokens/s: {(ray_made / ray_seconds) / (one[1] / one[0]):.2f}x "
        "(Ray's wall time includes starting the cluster and loading an engine per worker)"
    )


def project(args: argparse.Namespace) -> None:
    """What the planner's roofline projects for a whole GSM8K sweep on 8 nodes of vLLM.

    The sweep: every GSM8K test question (1,319) under cot and self_consistency:n=8, at
    --sample-tokens per sample (measured by `sweep`), each node one H100 serving the model at
    the largest batch its memory holds (at most vLLM's default 256 sequences).
    """
    from thinktime.plan.hardware import load_hardware
    from thinktime.plan.planner import resolve_profile
    from thinktime.plan.roofline import decode, max_batch

    samples = 1319 * (1 + 8)
    tokens = samples * args.sample_tokens
    h100 = load_hardware()["H100"]
    table = Table(title=f"GSM8K test × (cot + sc n=8): {samples:,} samples, {tokens:,.0f} tokens")
    for column in ("model", "batch / node", "tok/s / node (roofline)", "8 nodes: seconds"):
        table.add_column(column)
    for model in ("qwen2.5-coder-0.5b", "dense-7b"):
        profile = resolve_profile(model)
        batch = min(256, max_batch(profile, h100, 2 * args.sample_tokens + 200))
        rate = decode(profile, h100, batch, args.sample_tokens + 200).tokens_per_second
        table.add_row(model, str(batch), f"{rate:,.0f}", f"{tokens / (8 * rate):,.1f}")
    console.print(table)
    if args.measured_rate:
        hours = tokens / args.measured_rate / 3600
        console.print(f"this machine at the measured {args.measured_rate} tok/s: {hours:.1f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "part", choices=["layouts", "sweep", "server", "ray", "project", "all", "layout-child"]
    )
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--alone", type=int, default=4, help="layouts: questions run alone")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--window", type=float, default=180.0, help="sweep: seconds compared")
    parser.add_argument("--every", type=float, default=15.0, help="sweep: counter reads")
    parser.add_argument("--sample-tokens", type=int, default=243, help="project: per sample")
    parser.add_argument("--measured-rate", type=float, default=0.0, help="project: tok/s here")
    parser.add_argument("--unified", type=int, default=0)
    parser.add_argument("--flash", type=int, default=1)
    args = parser.parse_args()
    if args.part == "layout-child":
        with ThreadPoolExecutor(1) as pool:  # keeps the engine's logs off our stdout's last line
            row = pool.submit(layout_run, bool(args.unified), bool(args.flash), args.tokens,
                              args.alone).result()  # fmt: skip
        print(json.dumps(row), flush=True)
        os._exit(0)  # the engine's threads need no orderly shutdown
    parts = {"layouts": layouts, "sweep": sweep, "server": server, "ray": ray_part,
             "project": project}  # fmt: skip
    for name in parts if args.part == "all" else [args.part]:
        parts[name](args)


if __name__ == "__main__":
    main()
