"""Load a student (SFT's or GRPO's) into transformers: an embedded GGUF or a Hugging Face id.

An embedded model (`qwen2.5-coder-0.5b`, a `.gguf` path, `hf:OWNER/REPO/FILE.gguf`) is loaded by
transformers from the GGUF, dequantised to fp32 on CPU (bf16 on a GPU), with its tokenizer;
the GGUF path is kept so the trained student can be written back to GGUF. Anything else is a
Hugging Face model id or folder (`Qwen/Qwen2.5-0.5B-Instruct`), loaded the usual way.

Before loading, the memory a LoRA run needs is estimated (weights at load precision plus
activations and optimiser state for the adapter, ~1.5× the weights) and compared with what is
free, so an oversized student fails in a second with a clear message instead of being killed.

    >>> check_fits(n_params=135_000_000, bytes_per_param=4, available=8 * 2**30)
    >>> check_fits(n_params=7_000_000_000, bytes_per_param=4, available=8 * 2**30)
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: student needs about 42.0 GB to train ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktime.errors import ThinktimeError
from thinktime.models.known import KNOWN_MODELS

TRAIN_OVERHEAD = 1.5  # activations, LoRA grads and optimiser state, as a multiple of the weights


@dataclass
class Student:
    model: Any  # transformers PreTrainedModel
    tokenizer: Any
    reference: str
    gguf: Path | None  # the base GGUF, when loaded from one (enables GGUF export)


def check_fits(n_params: int, bytes_per_param: int, available: int) -> None:
    """Raise when training a model of `n_params` would not fit in `available` bytes."""
    need = n_params * bytes_per_param * TRAIN_OVERHEAD
    if need > available:
        raise ThinktimeError(
            f"student needs about {need / 1e9:.1f} GB to train (fp{8 * bytes_per_param} weights "
            f"+ LoRA state) but {available / 1e9:.1f} GB is free; pick a smaller student "
            "(e.g. qwen2.5-coder-0.5b), close other work, or train on a GPU"
        )


def _available_memory(on_gpu: bool) -> int:
    if on_gpu:
        import torch

        free, _ = torch.cuda.mem_get_info()
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def trainer_args(out_dir: str | Path, seed: int) -> dict[str, Any]:
    """TRL/transformers arguments every thinktime trainer shares: log each step, save nothing
    but the final adapter, no external loggers, bf16 on a GPU and fp32 on CPU."""
    import torch

    on_gpu = torch.cuda.is_available()
    return {
        "output_dir": str(Path(out_dir) / "trainer"),
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "seed": seed,
        "bf16": on_gpu,
        "use_cpu": not on_gpu,
        "dataloader_num_workers": 0,
    }


def is_gguf_reference(reference: str) -> bool:
    return reference in KNOWN_MODELS or reference.startswith("hf:") or reference.endswith(".gguf")


def refuse_adapter_model(reference: str) -> None:
    """Refuse a known model that is a base with a LoRA adapter applied by the engine: its
    adapter GGUF cannot be loaded back into transformers here, and loading the base alone would
    train (or score) a different model than the one named.

    >>> refuse_adapter_model("qwen2.5-coder-0.5b")
    >>> refuse_adapter_model("qwen2.5-coder-0.5b-think")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: student 'qwen2.5-coder-0.5b-think' is qwen2.5-coder-0.5b ...
    """
    model = KNOWN_MODELS.get(reference)
    if model is not None and model.adapter is not None:
        raise ThinktimeError(
            f"student {reference!r} is {model.base} with a LoRA adapter the engine applies, "
            "which cannot be loaded for training here; train from the base "
            f"(-m {model.base}), or from a merged GGUF of the adapted model "
            "(thinktime distill train --export merged writes one; pass its path)"
        )


def load_student(reference: str) -> Student:
    """Load `reference` for training; see the module docstring."""
    refuse_adapter_model(reference)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    on_gpu = torch.cuda.is_available()
    dtype = torch.bfloat16 if on_gpu else torch.float32
    bytes_per_param = 2 if on_gpu else 4
    if is_gguf_reference(reference):
        from thinktime.models.card import read_card
        from thinktime.models.resolve import resolve_model

        path = resolve_model(reference)
        check_fits(read_card(path).n_params, bytes_per_param, _available_memory(on_gpu))
        kwargs: dict[str, Any] = {"gguf_file": path.name}
        folder, gguf = str(path.parent), path
    else:
        folder, gguf, kwargs = reference, None, {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **kwargs)
    except OSError as exc:
        raise ThinktimeError(
            f"could not load student {reference!r} ({exc}); pass a known model "
            f"({', '.join(KNOWN_MODELS)}), a .gguf path, or a Hugging Face id reachable from here"
        ) from None
    # transformers tags a GGUF-loaded model as "quantized" although its weights are dequantised
    # fp32 tensors; drop the tag so the Trainer accepts it
    if gguf is not None:
        model.hf_quantizer = None
        model.is_quantized = False
        model.config.__dict__.pop("quantization_config", None)
    if gguf is None:
        n_params = sum(p.numel() for p in model.parameters())
        check_fits(n_params, bytes_per_param, _available_memory(on_gpu))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Student(model.to("cuda" if on_gpu else "cpu"), tokenizer, reference, gguf)
