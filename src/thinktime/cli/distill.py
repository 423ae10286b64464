"""`thinktime distill …`: teacher traces → verified filter → LoRA SFT / GRPO → before/after eval.

$ thinktime distill traces --task gsm8k:train --limit 300 -m qwen2.5-coder-1.5b
$ thinktime distill train --traces runs/distill/traces.jsonl -m qwen2.5-coder-0.5b
$ thinktime distill grpo --task gsm8k:train --limit 64 -m qwen2.5-coder-0.5b
$ thinktime distill eval --student runs/distill/student.gguf --limit 100
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from thinktime.cli.common import (
    DEFAULT_MAX_TOKENS,
    MaxTokens,
    at_least,
    console,
    fail,
    model_option,
    run_with_progress,
    store_option,
    strategy_option,
)
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.strategies import DEFAULT_STRATEGY

OUT = Path("runs/distill")
TEACHER = "qwen2.5-coder-1.5b"

DataDir = Annotated[
    str | None, typer.Option(help="Folder with gsm8k/ and math500/ JSONL (THINKTIME_DATA).")
]


def _task(
    spec: str, limit: int | None, offset: int, data_dir: str | None, size: int | None = None
) -> Any:
    from thinktime.tasks import load_task

    at_least("--limit", limit, 1)
    at_least("--offset", offset, 0)
    at_least("--size", size, 1)
    # a task takes the options its loader declares (`size`: a generated family's); None = none
    task = load_task(spec, data_dir=data_dir, limit=limit, offset=offset or None, size=size)
    if not task.problems:
        raise ThinktimeError(f"task {spec!r} selected no questions; check --limit/--offset")
    return task


def _with_samples(store: Any, task: Any, model: str, config: str) -> list[dict[str, Any]]:
    ids = {p.id for p in task.problems}
    rows = [
        r
        for r in store.results(task.name)
        if r["model"] == model and r["config"] == config and r["question_id"] in ids
    ]
    return [{**r, "samples": store.samples(r["id"])} for r in rows]


def traces(
    task: Annotated[str, typer.Option(help="Questions: gsm8k:train, reasoning_gym:F, jsonl:P.")] = (
        "gsm8k:train"
    ),
    limit: Annotated[int | None, typer.Option(help="Questions to run.")] = 300,
    offset: Annotated[int, typer.Option(help="Skip this many questions first.")] = 0,
    size: Annotated[
        int | None, typer.Option(help="Questions a generated task (reasoning_gym) makes.")
    ] = None,
    teacher: Annotated[str, model_option("The teacher (any backend).")] = TEACHER,
    strategy: Annotated[
        str, strategy_option("The teacher's, e.g. self_consistency:n=8.")
    ] = DEFAULT_STRATEGY,
    store: Annotated[str, store_option("Resumable.")] = "runs/distill.db",
    out: Annotated[str, typer.Option(help="Chat-format JSONL to write.")] = str(
        OUT / "traces.jsonl"
    ),
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS,
    max_trace_tokens: Annotated[int, typer.Option(help="Drop longer traces.")] = 1024,
    per_question: Annotated[int, typer.Option(help="Most traces kept per question.")] = 1,
    min_agreement: Annotated[
        float, typer.Option(help="Without gold: majority share needed.")
    ] = 0.6,
    think: Annotated[
        bool,
        typer.Option(help="Write each trace as <think>…</think> + answer (a thinking student)."),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Run a teacher over questions, keep verified traces, export chat-format JSONL."""
    from thinktime.backends.base import make_backend
    from thinktime.bench.configs import parse_config
    from thinktime.bench.store import Store
    from thinktime.distill.traces import TraceFilter, select_traces, write_jsonl
    from thinktime.sampling import sampling_params

    try:
        rules = TraceFilter(
            max_tokens=max_trace_tokens, per_question=per_question, min_agreement=min_agreement
        )
        config = parse_config(strategy)  # once, here: the sweep gets it typed
        sampling_params(options=True, max_tokens=max_tokens)
        the_task = _task(task, limit, offset, data_dir, size)
        results = Store(store)
        backend = make_backend(teacher, hints={"n_parallel": 16})
        run_with_progress(the_task, {teacher: backend}, [config], results, max_tokens, 0)
        rows = _with_samples(results, the_task, teacher, strategy)
        kept, report = select_traces(rows, the_task, rules)
        path = write_jsonl(kept, out, think=think)
    except (ThinktimeError, ValueError) as exc:
        raise fail(str(exc)) from None
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items())) or "none"
    console.print(
        f"{report.seen} teacher samples on {report.questions} questions → kept {report.kept} "
        f"traces ({report.questions_kept} questions); dropped: {dropped}\nwrote {path}"
    )


def train(
    traces: Annotated[str, typer.Option(help="JSONL from `distill traces`.")] = str(
        OUT / "traces.jsonl"
    ),
    student: Annotated[str, model_option("The student to train.")] = DEFAULT_MODEL,
    out: Annotated[str, typer.Option(help="Folder for adapter and student.")] = str(OUT),
    epochs: Annotated[float, typer.Option(help="Passes over the traces.")] = 2.0,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Sequences per step.")] = 4,
    grad_accum: Annotated[int, typer.Option(help="Steps per optimiser update.")] = 2,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    max_length: Annotated[int, typer.Option(help="Longest example in tokens.")] = 1024,
    held_out: Annotated[int, typer.Option(help="Traces kept aside for the loss.")] = 16,
    export: Annotated[
        Literal["adapter", "merged", "both"],
        typer.Option(help="Write a LoRA adapter GGUF (small), a merged GGUF, or both."),
    ] = "both",
) -> None:
    """LoRA SFT of the student on the traces (loss on the assistant turn); export as GGUF:
    a LoRA adapter the engine applies to the base at load, the merged weights, or both."""
    from thinktime.distill.sft import SFTOptions, train_sft
    from thinktime.distill.student import load_student
    from thinktime.distill.traces import read_jsonl

    try:
        options = SFTOptions(
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            grad_accum=grad_accum,
            lora_r=lora_r,
            lora_alpha=2 * lora_r,
            max_length=max_length,
            held_out=held_out,
            export=export,
        )
        records = read_jsonl(traces)
        report = train_sft(load_student(student), records, out, options)
    except (ThinktimeError, ValueError) as exc:
        raise fail(str(exc)) from None
    losses = report.train_losses
    console.print(
        f"trained on {report.examples} traces: {report.steps} steps in {report.seconds:.0f} s; "
        f"train loss {losses[0]:.3f} → {losses[-1]:.3f}"
        if losses
        else f"trained {report.steps} steps"
    )
    if report.held_out_loss_before is not None:
        console.print(
            f"held-out trace loss {report.held_out_loss_before:.3f} → "
            f"{report.held_out_loss_after:.3f}"
        )
    console.print(f"adapter: {report.adapter}\nstudent: {report.student}")
    if report.lora_gguf is not None and report.lora_gguf != report.student:
        console.print(f"LoRA adapter GGUF: {report.lora_gguf}")


def grpo(
    task: Annotated[str, typer.Option(help="Questions with gold answers.")] = "gsm8k:train",
    limit: Annotated[int | None, typer.Option(help="Questions to use.")] = 64,
    model: Annotated[str, model_option("The model to train.")] = DEFAULT_MODEL,
    out: Annotated[str, typer.Option(help="Folder for adapter and model.")] = str(OUT / "grpo"),
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 2,
    num_generations: Annotated[int, typer.Option(help="Completions per question.")] = 4,
    max_completion_length: Annotated[int, typer.Option(help="Tokens per completion.")] = 64,
    learning_rate: Annotated[float, typer.Option(help="Learning rate.")] = 1e-5,
    use_vllm: Annotated[bool, typer.Option(help="Generate with vLLM (GPU).")] = False,
    data_dir: DataDir = None,
) -> None:
    """GRPO with verifiable rewards (correctness + format), the R1-Zero recipe, with LoRA."""
    from thinktime.distill.grpo import GRPOOptions, train_grpo
    from thinktime.distill.student import load_student

    try:
        options = GRPOOptions(
            max_steps=steps,
            num_generations=num_generations,
            max_completion_length=max_completion_length,
            learning_rate=learning_rate,
            use_vllm=use_vllm,
        )
        problems = _task(task, limit, 0, data_dir).problems
        report = train_grpo(load_student(model), problems, out, options)
    except (ThinktimeError, ValueError) as exc:
        raise fail(str(exc)) from None
    rewards = ", ".join(f"{r:.2f}" for r in report.rewards)
    console.print(
        f"{report.steps} GRPO steps in {report.seconds:.0f} s; mean reward per step: {rewards}\n"
        f"adapter: {report.adapter}\nmodel: {report.student}"
    )


def evaluate(
    student: Annotated[str, typer.Option(help="The distilled student (.gguf).")] = str(
        OUT / "student.gguf"
    ),
    base: Annotated[str, typer.Option(help="The student before training.")] = DEFAULT_MODEL,
    teacher: Annotated[str, typer.Option(help="The teacher.")] = TEACHER,
    strategy: Annotated[str, strategy_option("For base and student.")] = DEFAULT_STRATEGY,
    teacher_strategy: Annotated[
        str, typer.Option(help="Config for the teacher.")
    ] = DEFAULT_STRATEGY,
    task: Annotated[str, typer.Option(help="Held-out questions.")] = "gsm8k:test",
    limit: Annotated[int | None, typer.Option(help="Questions.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
    size: Annotated[
        int | None, typer.Option(help="Questions a generated task (reasoning_gym) makes.")
    ] = None,
    store: Annotated[str, store_option("Resumable.")] = "runs/distill-eval.db",
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS,
    markdown: Annotated[str | None, typer.Option(help="Also write the table here.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Base vs distilled student vs teacher on held-out questions: accuracy, tokens, FLOPs."""
    from thinktime.backends.base import Backend, make_backend
    from thinktime.bench.configs import parse_config
    from thinktime.bench.store import Store
    from thinktime.distill.compare import compare
    from thinktime.distill.student import is_gguf_reference
    from thinktime.models.resolve import resolve_model
    from thinktime.sampling import sampling_params

    try:
        sampling_params(options=True, max_tokens=max_tokens)
        # fail before any arm spends compute: the configs parsed once, here; the models found
        configs = {text: parse_config(text) for text in (strategy, teacher_strategy)}
        for reference in (base, student, teacher):
            if is_gguf_reference(reference):
                resolve_model(reference)
        the_task = _task(task, limit, offset, data_dir, size)
        results = Store(store)
        arms = {"base": (base, strategy), "student": (student, strategy)}
        arms["teacher"] = (teacher, teacher_strategy)
        engines: dict[str, Backend] = {}  # one per model, however many arms share it
        for model, config in arms.values():
            if model not in engines:
                engines[model] = make_backend(model, hints={"n_parallel": 16})
            run_with_progress(
                the_task, {model: engines[model]}, [configs[config]], results, max_tokens, 0
            )
        result = compare(results, the_task.name, arms)
    except (ThinktimeError, ValueError) as exc:
        raise fail(str(exc)) from None
    console.print(result.markdown(), highlight=False)
    console.print(result.headline(), highlight=False)
    if markdown:
        Path(markdown).write_text(result.markdown() + "\n\n" + result.headline() + "\n")
