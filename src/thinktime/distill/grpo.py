"""RL with verifiable rewards: TRL's GRPOTrainer, with thinktime's verifiers as the rewards.

For each question GRPO samples `num_generations` completions, scores them with the rewards in
`rewards.py` (correctness against the gold answer + format), normalises the scores within the
group into advantages, and takes a clipped policy-gradient step — no value model, no reward
model (Shao et al. 2024; DeepSeek-R1-Zero). A LoRA adapter keeps memory small; `beta=0` drops
the reference model, as in DAPO and TRL's default.

CPU: a smoke run of a few steps with short completions proves the loop. GPU recipe (documented
in docs/distill.md): bf16 (automatic), `num_generations=8`, `max_completion_length=1024`,
`use_vllm=True` (TRL generates with vLLM in the training process).

    >>> GRPOOptions().num_generations
    4
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, Field

from thinktime.distill.rewards import REWARDS
from thinktime.distill.sft import save_student
from thinktime.distill.student import Student, trainer_args
from thinktime.distill.traces import chat_prompt
from thinktime.errors import ThinktimeError
from thinktime.tasks.base import Problem


class GRPOOptions(BaseModel):
    """How the model is trained (in RL terms, the policy being optimised)."""

    max_steps: int = Field(2, ge=1, description="Optimiser steps.")
    num_generations: int = Field(4, ge=2, description="Completions per question (the group).")
    questions_per_step: int = Field(1, ge=1, description="Questions per optimiser step.")
    max_completion_length: int = Field(64, ge=1, description="Tokens sampled per completion.")
    learning_rate: float = Field(1e-5, gt=0)
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0, description="KL weight to the reference model (0 = none).")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    rewards: list[str] = Field(["correctness", "format"], description="Names from REWARDS.")
    use_vllm: bool = Field(False, description="Generate with vLLM (GPU; TRL's colocate mode).")
    seed: int = 0


@dataclass
class GRPOReport:
    steps: int
    seconds: float
    rewards: list[float] = field(default_factory=list)  # mean reward per logged step
    adapter: Path | None = None
    student: Path | None = None


def _dataset(problems: list[Problem]) -> Any:
    from datasets import Dataset

    rows = [{"prompt": chat_prompt(p.question), "answer": p.gold} for p in problems]
    return Dataset.from_list(rows)


def train_grpo(
    student: Student, problems: list[Problem], out_dir: str | Path, options: GRPOOptions
) -> GRPOReport:
    """Run GRPO on `problems`; save the adapter and the merged model under `out_dir`."""
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    if not problems:
        raise ThinktimeError("no questions to train on; check the task and --limit")
    unknown = [name for name in options.rewards if name not in REWARDS]
    if unknown:
        raise ThinktimeError(f"unknown rewards {unknown}; choose from: {', '.join(REWARDS)}")
    batch = options.num_generations * options.questions_per_step
    config = GRPOConfig(
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        num_generations=options.num_generations,
        max_completion_length=options.max_completion_length,
        temperature=options.temperature,
        beta=options.beta,
        use_vllm=options.use_vllm,
        vllm_mode="colocate",
        **trainer_args(out_dir, options.seed),
    )
    trainer = GRPOTrainer(
        model=student.model,
        reward_funcs=cast(Any, [REWARDS[name] for name in options.rewards]),
        args=config,
        train_dataset=_dataset(problems),
        processing_class=student.tokenizer,
        peft_config=LoraConfig(
            r=options.lora_r,
            lora_alpha=options.lora_alpha,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    started = time.perf_counter()
    trainer.train()
    report = GRPOReport(
        steps=int(trainer.state.global_step),
        seconds=time.perf_counter() - started,
        rewards=[float(e["reward"]) for e in trainer.state.log_history if "reward" in e],
    )
    report.adapter, report.student = save_student(trainer.model, student, Path(out_dir))
    return report
