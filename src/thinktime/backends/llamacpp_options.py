"""What the embedded engine (`llamacpp:MODEL`) takes as options; the defaults are the engine's.

>>> LlamaCppOptions().n_parallel, LlamaCppOptions(lora_scale=0).lora_scale
(8, 0.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from thinktime.backends.llamacpp_draft import set_speculative
from thinktime.backends.options import BackendOptions
from thinktime.backends.thinking import THINK, ThinkTags


class LlamaCppOptions(BackendOptions):
    """What `llamacpp:MODEL` takes (the defaults are the engine's)."""

    n_parallel: int = Field(8, ge=1, le=512, description="Sequence slots decoded together.")
    context_per_sequence: int = Field(4096, ge=16, description="KV-cache tokens per slot.")
    n_threads: int | None = Field(None, ge=1, description="CPU threads (default: every core).")
    kv_unified: bool = Field(False, description="One KV cache for all slots (slower; see below).")
    flash_attention: bool = Field(True, description="llama.cpp's flash attention (faster on CPU).")
    think_tags: ThinkTags | None = Field(
        THINK, description="What the model writes around its thinking in content (None: off)."
    )
    lora: tuple[Path, ...] = Field(
        (), description="LoRA adapter GGUFs added to the model's weights at load (distill train)."
    )
    lora_scale: float = Field(
        1.0, ge=0, description="Multiplies every adapter's trained alpha/r (0: the base model)."
    )
    thinks: bool | None = Field(
        None,
        description="The model thinks in think_tags, so max_thinking_tokens caps it (None: a "
        "known model's own flag, else whether its chat template writes the open tag).",
    )
    draft: str | None = Field(None, description="Speculative decoding's drafter (llamacpp_draft).")
    draft_max: int | None = Field(None, ge=1, le=256, description="Most tokens drafted per step.")
    draft_min: int | None = Field(None, ge=0, le=256, description="Fewest drafted tokens used.")


def engine_params(
    model_path: Path, n_parallel: int, context_per_sequence: int, n_threads: int | None,
    kv_unified: bool, flash_attention: bool, lora: Sequence[Path], lora_scale: float,
    draft: str | None, draft_max: int | None, draft_min: int | None,
) -> Any:  # fmt: skip
    """llama.cpp's server parameters (xllamacpp's `CommonParams`) for these options."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(a), lora_scale) for a in lora]
    # a KV cache per slot. With one unified cache each token attends over every slot's
    # cells (masked). 16 cot questions at once (benchmarks/engines.py): per-slot caches +
    # flash attention decode 1.69x the unified cache's tokens/s, 1.66x one question alone.
    # A request's n samples still share one prefill (copied per slot).
    params.n_parallel = n_parallel
    params.kv_unified = kv_unified
    params.flash_attn_type = 1 if flash_attention else 0
    params.n_ctx = n_parallel * context_per_sequence
    threads = n_threads or os.cpu_count() or 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cont_batching = True
    params.warmup = False
    params.endpoint_metrics = True
    params.verbosity = -1  # the engine logs every step to stderr otherwise
    if draft is not None:  # speculative decoding (see llamacpp_draft.py)
        set_speculative(params, draft, Path(model_path), draft_max, draft_min, threads)
    return params
