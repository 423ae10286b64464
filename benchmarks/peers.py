"""thinktime against optillm and its-hub, the peers' own code, on one llama.cpp engine.

One process tree, one engine, one method at a time:
1) the peers' virtual environment (`--venv`, default runs/peers-venv) is made once, with
   optillm and its-hub pinned (`PINS`; optillm with `--no-deps`, since its declared
   dependencies pull torch, transformers, spaCy, Gradio … that none of the approaches run here
   import, plus the few its package imports at load) — or this script stops with one line;
2) thinktime's embedded engine loads the GGUF (`--model`) and serves llama.cpp's own
   OpenAI-compatible HTTP API on loopback (`LlamaCppBackend.base_url`);
3) each peer method (`--peers`) runs in a child process with the peers' Python
   (benchmarks/peers_runner.py) against that URL, on the same questions, with thinktime's cot
   system prompt, `--max-tokens` per sample and `--samples` samples / candidates / particles;
4) thinktime's cot runs first, then each method of `--methods` through `thinktime.solve` on the
   same engine, sized to the peers' best method's engine tokens per question and capped there
   (`Budget.max_completion_tokens`; benchmarks/peers_match.py) — or `--budget` tokens; each
   `--uncapped CONFIG` (`self_consistency:n=4`) runs as written with no budget, to compare an
   algorithm with a peer's at the same settings rather than at the same tokens;
5) every method is graded by the task's own grader (answers extracted by thinktime's
   extractor, the same for everyone); the engine's counters (`tokens_predicted_total`,
   `prompt_tokens_total`: llama.cpp's /metrics) are read before and after each method, so
   the tokens compared are the engine's, not each method's own accounting (optillm reads
   `usage.completion_tokens`, which llama.cpp gives for one choice of an n > 1 request; its-hub
   counts generation calls, not its judge, and particle filtering none at all).

The table (markdown, also to `--out`) has per method: accuracy with n and 95% CI, engine
completion and prompt tokens per question, the tokens the method reported itself, wall seconds
per question, and the paired difference of thinktime's best against it with CIs. Run it alone
(llama.cpp's threads busy-wait): it holds `--lock` while it measures.

    python benchmarks/peers.py --questions 30 --rows runs/peers-30.jsonl

With `--rows`, each finished method's row is appended to that file under the run's settings,
and a rerun with the same settings takes the rows already there instead of running them again:
a long run resumes method by method.
    python benchmarks/peers.py --questions 2 --max-tokens 96 --samples 2 --out runs/peers.md
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_lock import alone
from peers_match import THINKTIME, Row, best, sizes, table, target_tokens

from thinktime import solve
from thinktime.answers.extract import extract_answer
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.bench.configs import parse_config
from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.prompts import COT_SYSTEM
from thinktime.sampling import SamplingParams
from thinktime.tasks import Task, load_task

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("peers_runner.py")
TASK = "reasoning_gym:chain_sum:min_terms=2,max_terms=3,min_digits=2,max_digits=2"
# the peers and the packages optillm imports when loaded (its proxy module), pinned; optillm
# itself goes in with --no-deps (see the module docstring)
PINS = (
    "its_hub[lm]==1.2.0", "flask==3.1.3", "cerebras_cloud_sdk==1.91.0", "networkx==3.6.1",
    "z3-solver==4.15.4.0", "sympy==1.14.0", "math-verify==0.9.0", "PyYAML==6.0.4",
)  # fmt: skip
NO_DEPS = ("optillm==0.4.0",)
PEERS = (
    "optillm:self_consistency", "optillm:bon", "optillm:mcts",
    "its_hub:self_consistency", "its_hub:best_of_n", "its_hub:particle_filtering",
)  # fmt: skip
METHODS = ("self_consistency", "best_of_n", "particle_filtering", "mcts")
COMPLETION, PROMPT = "tokens_predicted_total", "prompt_tokens_total"


class PeersError(Exception):
    """Something the user must fix, said in one line."""


def ensure_venv(venv: Path, python: str) -> Path:
    """The peers' Python: `venv` made with `python -m venv` and the pins installed, once (a
    file in it records the pins; other pins remake it)."""
    peers_python, record = venv / "bin" / "python", venv / "thinktime-peers-pins.txt"
    pins = "\n".join((*PINS, "--no-deps", *NO_DEPS))
    if peers_python.exists() and record.exists() and record.read_text() == pins:
        return peers_python
    steps = [
        [python, "-m", "venv", "--clear", str(venv)],
        [str(peers_python), "-m", "pip", "install", "-q", *PINS],
        [str(peers_python), "-m", "pip", "install", "-q", "--no-deps", *NO_DEPS],
    ]
    for step in steps:
        print(f"peers venv: {' '.join(step)}", file=sys.stderr)
        try:
            done = subprocess.run(step, capture_output=True, text=True)
        except OSError as exc:
            done = subprocess.CompletedProcess(step, 1, "", str(exc))
        if done.returncode != 0:
            lines = [x for x in (done.stderr or done.stdout).splitlines() if "is ignored" not in x]
            why = lines[-1].strip() if lines else f"exit status {done.returncode}"
            raise PeersError(
                f"could not make the peers' virtual environment at {venv}: `{' '.join(step)}` "
                f"failed ({why}); check that PyPI is reachable, or pass --venv to a made one"
            )
    record.write_text(pins)
    return peers_python


def counted(stats: Callable[[], dict[str, float]], work: Callable[[], Any]) -> tuple[Any, int, int]:
    """`work()`'s result and the engine completion and prompt tokens it took (counters read
    before and after; nothing else may use the engine meanwhile)."""
    before = stats()
    result = work()
    after = stats()
    return (
        result,
        round(after.get(COMPLETION, 0.0) - before.get(COMPLETION, 0.0)),
        round(after.get(PROMPT, 0.0) - before.get(PROMPT, 0.0)),
    )


def run_peer(
    peers_python: Path, method: str, task: Task, backend: LlamaCppBackend, args: argparse.Namespace
) -> Row:
    """One peer method on every question, in a child process with the peers' Python."""
    job = {
        "method": method, "base_url": backend.base_url, "model": args.model,
        "system": COT_SYSTEM, "max_tokens": args.max_tokens, "samples": args.samples,
        "step_tokens": args.step_tokens, "max_steps": args.max_steps,
        "judge_tokens": args.judge_tokens, "mcts_simulations": args.mcts_simulations,
        "mcts_depth": args.mcts_depth,
        "questions": [{"id": p.id, "question": p.question} for p in task.problems],
    }  # fmt: skip

    def work() -> list[dict[str, Any]]:
        with tempfile.TemporaryFile("w+") as log:
            child = subprocess.Popen(
                [str(peers_python), str(RUNNER)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, text=True,
            )  # fmt: skip
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(json.dumps(job))
            child.stdin.close()
            lines = []
            for line in child.stdout:
                lines.append(json.loads(line))
                if "id" in lines[-1]:
                    note = lines[-1]["error"] or f"{lines[-1]['seconds']:.0f} s"
                    print(f"{method}: {len(lines) - 1}/{len(task.problems)} {note}",
                          file=sys.stderr)  # fmt: skip
            if child.wait() != 0:
                log.seek(0)
                last = (log.read().strip().splitlines() or ["no output"])[-1]
                raise PeersError(f"peer method {method} failed: {last}")
        return lines

    lines, completion, prompt = counted(backend.engine_stats, work)
    config, answers = lines[0]["config"], lines[1:]
    correct = [
        task.grade(p, extract_answer(a["text"])) >= 1.0
        for p, a in zip(task.problems, answers, strict=True)
    ]
    reported = [a["reported_tokens"] for a in answers]
    side, name = method.split(":")
    return Row(
        side, name, config, [float(c) for c in correct], completion, prompt,
        None if None in reported else sum(reported), sum(a["seconds"] for a in answers),
    )  # fmt: skip


def run_thinktime(
    method: str, params: dict[str, int], budget: int | None, task: Task,
    backend: LlamaCppBackend, args: argparse.Namespace, label: str | None = None,
) -> Row:  # fmt: skip
    """One thinktime strategy on every question, through `solve` on the same engine; the row
    is named `label` (default: the strategy's name)."""
    sampling = SamplingParams(max_tokens=args.max_tokens)
    if method in ("particle_filtering", "mcts"):
        params = {**params, "step_tokens": args.step_tokens}

    def work() -> tuple[list[float], int, float]:
        correct, reported, seconds = [], 0, 0.0
        for i, problem in enumerate(task.problems):
            started = time.perf_counter()
            result = solve(
                problem.question, backend=backend, strategy=method, params=params,
                sampling=sampling, budget=Budget(max_completion_tokens=budget) if budget else None,
            )  # fmt: skip
            seconds += time.perf_counter() - started
            reported += result.bill.completion_tokens
            correct.append(1.0 if task.grade(problem, result.answer) >= 1.0 else 0.0)
            print(f"thinktime:{label or method}: {i + 1}/{len(task.problems)}", file=sys.stderr)
        return correct, reported, seconds

    (correct, reported, seconds), completion, prompt = counted(backend.engine_stats, work)
    config = ", ".join(
        [f"{k}={v}" for k, v in params.items()]
        + [f"max_tokens={args.max_tokens}"]
        + ([f"budget={budget}"] if budget else [])
    )
    return Row(THINKTIME, label or method, config, correct, completion, prompt, reported, seconds)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=TASK, help="a thinktime task spec (load_task)")
    parser.add_argument("--size", type=int, default=1000, help="reasoning-gym dataset size")
    parser.add_argument("--questions", type=int, default=30, help="questions 0 .. N-1")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="the GGUF everyone runs")
    parser.add_argument("--max-tokens", type=int, default=256, help="per sample, everyone")
    parser.add_argument("--samples", type=int, default=4, help="the peers' n / particles")
    parser.add_argument("--step-tokens", type=int, default=128, help="per step (step search)")
    parser.add_argument("--max-steps", type=int, default=10, help="steps per particle / path")
    parser.add_argument("--judge-tokens", type=int, default=64, help="its-hub LLMJudge's cap")
    parser.add_argument("--mcts-simulations", type=int, default=2, help="optillm's default")
    parser.add_argument("--mcts-depth", type=int, default=1, help="optillm's default")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peer methods")
    parser.add_argument("--methods", default=",".join(METHODS), help="thinktime's, after cot")
    parser.add_argument(
        "--uncapped", action="append", default=[], metavar="CONFIG",
        help="a thinktime config run as written, with no budget (self_consistency:n=4); repeat",
    )  # fmt: skip
    parser.add_argument(
        "--budget", type=int, default=None, help="thinktime's tokens/question (default: matched)"
    )
    parser.add_argument("--slots", type=int, default=8, help="engine sequence slots")
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: all)")
    parser.add_argument("--venv", type=Path, default=ROOT / "runs" / "peers-venv")
    parser.add_argument("--python", default=sys.executable, help="makes the peers' venv")
    parser.add_argument("--lock", type=Path, default=Path("/tmp/thinktime-bench.lock"))
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument(
        "--rows", type=Path, default=None, help="keep finished rows here (JSON lines); resume"
    )
    args = parser.parse_args()
    peers = [m for m in args.peers.split(",") if m]
    methods = [m for m in args.methods.split(",") if m]
    known_peers = (*PEERS, "optillm:moa")
    for name, given, known in (("--peers", peers, known_peers), ("--methods", methods, METHODS)):
        for bad in sorted(set(given) - set(known)):
            parser.error(f"{name}: unknown method {bad!r}; one of: {', '.join(known)}")
    for flag in ("questions", "max_tokens", "samples", "step_tokens", "max_steps", "slots"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    uncapped = []
    for text in args.uncapped:
        try:
            uncapped.append(parse_config(text))
        except ThinktimeError as exc:
            parser.error(f"--uncapped: {exc}")
        sampled = uncapped[-1].sampling
        if sampled:  # every method samples alike: --max-tokens, the strategy's temperature
            parser.error(f"--uncapped {text!r}: strategy parameters only (got {sorted(sampled)})")
    args.peers, args.methods, args.uncapped = peers, methods, uncapped
    return args


# the settings a row depends on: a row is reused only by a run with the same ones
SETTINGS = ("task", "size", "questions", "model", "max_tokens", "samples", "step_tokens",
            "max_steps", "judge_tokens", "mcts_simulations", "mcts_depth", "budget")  # fmt: skip


def settings_key(args: argparse.Namespace) -> str:
    settings = json.dumps({name: getattr(args, name) for name in SETTINGS}, sort_keys=True)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def saved_rows(path: Path | None, key: str) -> dict[str, Row]:
    """The rows `path` holds for these settings, by `side:method` (the last of each wins)."""
    if path is None or not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.pop("key") == key:
            row = Row(**record)
            rows[f"{row.side}:{row.method}"] = row
    return rows


def save_row(path: Path | None, key: str, row: Row) -> Row:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps({"key": key, **dataclasses.asdict(row)}) + "\n")
    return row


def main() -> None:
    args = parse_args()
    key = settings_key(args)
    done = saved_rows(args.rows, key)
    try:
        peers_python = ensure_venv(args.venv, args.python) if args.peers else None
    except PeersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault("THINKTIME_DATA", str(ROOT.parent / "shared" / "data"))
    options = {"size": args.size} if args.task.startswith("reasoning_gym:") else {}
    task = load_task(args.task, limit=args.questions, **options)
    rows: list[Row] = []
    with alone(args.lock):
        backend = LlamaCppBackend.from_reference(
            args.model, n_parallel=args.slots, n_threads=args.threads
        )
        try:
            for method in args.peers:
                assert peers_python is not None
                row = done.get(method) or run_peer(peers_python, method, task, backend, args)
                rows.append(row if method in done else save_row(args.rows, key, row))
        except PeersError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        cot = done.get(f"{THINKTIME}:cot") or save_row(
            args.rows, key, run_thinktime("cot", {}, None, task, backend, args)
        )
        rows.append(cot)
        peer_rows = [r for r in rows if r.side != THINKTIME]
        budget = args.budget or (target_tokens(peer_rows) if peer_rows else None)
        per_sample = cot.per_question(cot.completion_tokens)
        for method in args.methods:
            params = sizes(budget or round(4 * per_sample), per_sample, args.max_steps)[method]
            name = f"{THINKTIME}:{method}"
            row = done.get(name) or run_thinktime(method, params, budget, task, backend, args)
            rows.append(row if name in done else save_row(args.rows, key, row))
        for config in args.uncapped:  # as written, spending what it spends: no budget
            name = f"{THINKTIME}:{config.text}"
            row = done.get(name) or run_thinktime(
                config.strategy, config.assignments, None, task, backend, args, label=config.text
            )
            rows.append(row if name in done else save_row(args.rows, key, row))
    source = "--budget" if args.budget else (
        f"matched to the peers' best, {best(peer_rows).side}:{best(peer_rows).method}"
        if peer_rows else "none: no peers ran"
    )  # fmt: skip
    heading = (
        f"{args.model} on `{args.task}` (size {args.size}), questions 0–{args.questions - 1}, "
        f"max_tokens {args.max_tokens}; thinktime's budget: {budget or 'none'} completion "
        f"tokens per question ({source})"
    )
    text = f"{heading}\n\n{table(rows)}\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    os._exit(0)  # the engine's threads need no orderly shutdown


if __name__ == "__main__":
    main()
