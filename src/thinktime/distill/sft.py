"""Supervised fine-tuning of a student on verified traces: TRL's SFTTrainer + a PEFT LoRA adapter.

The traces are prompt-completion chat records (see `traces.py`), so TRL masks the prompt and the
loss falls on the assistant turn only. After training the PEFT adapter is saved and the student
is written for the embedded engine, as `export` says: `adapter`, a LoRA adapter GGUF of a few
MB that llama.cpp applies to the base GGUF at load (`lora_gguf.py`; small enough to ship);
`merged`, the adapter merged into a full copy of the base GGUF (`gguf_export.py`), so
`thinktime bench --model runs/distill/student.gguf` evaluates it; or `both`. A student loaded
from a Hugging Face id has no base GGUF: it is saved as a merged HF folder instead.

CPU defaults are for a small run (fp32, batch 4, LoRA r=16 on every linear layer); on a GPU the
same call trains in bf16. The loss on held-out traces is measured before and after training.

    >>> SFTOptions(epochs=2).learning_rate
    0.0002
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from thinktime.distill.student import Student, trainer_args
from thinktime.errors import ThinktimeError

Export = Literal["adapter", "merged", "both"]
LORA_GGUF = "student-lora.gguf"  # the adapter GGUF's name in the output folder
MERGED_GGUF = "student.gguf"


class SFTOptions(BaseModel):
    """How the student is fine-tuned."""

    epochs: float = Field(2.0, gt=0, description="Passes over the traces.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (linear decay).")
    batch_size: int = Field(4, ge=1, description="Sequences per device step.")
    grad_accum: int = Field(2, ge=1, description="Steps accumulated per optimiser update.")
    max_length: int = Field(1024, ge=16, description="Longest tokenised example (truncated).")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scale numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field(
        "all-linear", description="Layers that get an adapter (PEFT names or 'all-linear')."
    )
    held_out: int = Field(16, ge=0, description="Traces kept aside to measure loss before/after.")
    seed: int = 0
    export: Export = Field(
        "both", description="Student written: LoRA adapter GGUF, merged GGUF, or both."
    )


@dataclass
class SFTReport:
    """What a fine-tuning run did and where it wrote the student."""

    examples: int
    steps: int
    seconds: float
    train_losses: list[float] = field(default_factory=list)
    held_out_loss_before: float | None = None
    held_out_loss_after: float | None = None
    adapter: Path | None = None  # the PEFT adapter folder
    student: Path | None = None  # the merged GGUF or HF folder; the adapter GGUF if only that
    lora_gguf: Path | None = None  # the LoRA adapter GGUF, when written


def _datasets(records: list[dict[str, Any]], held_out: int, seed: int) -> tuple[Any, Any]:
    from datasets import Dataset

    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in records]
    data = Dataset.from_list(rows).shuffle(seed=seed)
    if held_out and len(data) > 2 * held_out:
        split = data.train_test_split(test_size=held_out, seed=seed)
        return split["train"], split["test"]
    return data, None


def _no_base_gguf(student: Student) -> ThinktimeError:
    return ThinktimeError(
        f"student {student.reference!r} was not loaded from a GGUF, so there is no base for a "
        "LoRA adapter GGUF; export it merged (--export merged)"
    )


def _lora_weights(model: Any) -> list[str]:
    """HF names of the weights LoRA adapts (their merged values are what changes)."""
    from peft.tuners.lora import LoraLayer

    return [
        name.removeprefix("base_model.model.") + ".weight"
        for name, module in model.named_modules()
        if isinstance(module, LoraLayer)
    ]


def train_sft(
    student: Student, records: list[dict[str, Any]], out_dir: str | Path, options: SFTOptions
) -> SFTReport:
    """Fine-tune `student` on `records`; save the adapter and the student (`options.export`)
    under `out_dir`."""
    if not records:
        raise ThinktimeError("the trace dataset is empty; nothing to train on")
    if options.export == "adapter" and student.gguf is None:
        raise _no_base_gguf(student)
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    out = Path(out_dir)
    train, held = _datasets(records, options.held_out, options.seed)
    config = SFTConfig(
        num_train_epochs=options.epochs,
        learning_rate=options.learning_rate,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        max_length=options.max_length,
        lr_scheduler_type="linear",
        warmup_steps=1,
        **trainer_args(out, options.seed),
    )
    peft_config = LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=options.target_modules,
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=student.model,
        args=config,
        train_dataset=train,
        eval_dataset=held,
        processing_class=student.tokenizer,
        peft_config=peft_config,
    )
    before = trainer.evaluate()["eval_loss"] if held is not None else None
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    after = trainer.evaluate()["eval_loss"] if held is not None else None
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    report = SFTReport(
        examples=len(train),
        steps=int(trainer.state.global_step),
        seconds=seconds,
        train_losses=[x for x in losses if math.isfinite(x)],
        held_out_loss_before=before,
        held_out_loss_after=after,
    )
    report.adapter, report.student = save_student(trainer.model, student, out, options.export)
    if options.export != "merged" and student.gguf is not None:
        report.lora_gguf = out / LORA_GGUF
    return report


def save_student(
    peft_model: Any, student: Student, out: Path, export: Export = "both"
) -> tuple[Path, Path]:
    """Save the PEFT adapter folder and write the student as `export` says (module docstring);
    returns the folder and the student: the merged one when written, else the adapter GGUF."""
    adapter = out / "adapter"
    peft_model.save_pretrained(str(adapter))
    lora_gguf = None
    if export != "merged" and student.gguf is not None:
        from thinktime.distill.lora_gguf import peft_adapter, write_lora_gguf

        tensors, config = peft_adapter(peft_model)
        lora_gguf = write_lora_gguf(student.gguf, tensors, config, out / LORA_GGUF)
    if export == "adapter":
        if lora_gguf is None:
            raise _no_base_gguf(student)
        return adapter, lora_gguf
    changed = _lora_weights(peft_model)
    merged = peft_model.merge_and_unload()
    if student.gguf is None:
        folder = out / "merged"
        merged.save_pretrained(str(folder))
        student.tokenizer.save_pretrained(str(folder))
        return adapter, folder
    from thinktime.distill.gguf_export import export_gguf

    weights = merged.state_dict()
    tensors = {name: weights[name].float().cpu().numpy() for name in changed}
    path = export_gguf(student.gguf, tensors, out / MERGED_GGUF, name="thinktime student")
    return adapter, path
