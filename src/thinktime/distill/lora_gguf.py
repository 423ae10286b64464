"""Write a PEFT LoRA adapter as a llama.cpp LoRA adapter GGUF, for the embedded engine to apply.

A trained student is its base GGUF plus a LoRA adapter of a few MB, so it can ship in the
package and load with `LlamaCppBackend(..., lora=(path,))` instead of as a ~500 MB merged copy.
The file is what llama.cpp's convert_lora_to_gguf.py writes:
1. metadata: `general.architecture` (the base's), `general.type` = "adapter", `adapter.type` =
   "lora", `adapter.lora.alpha`; llama.cpp scales each pair by alpha / r itself (r read from the
   tensors), so PEFT's own scale is carried by alpha. The base's sha256 goes in
   `adapter.base_sha256` (models/lora.py refuses any other base with it);
2. per adapted matrix `W` (GGUF name `N`, e.g. `blk.3.attn_q.weight`) the pair `N.lora_a`, PEFT's
   A as is, shape (r, in), and `N.lora_b`, B, shape (out, r), in f16; llama.cpp computes
   W x + scale · B (A x). B holds the output rows, so on the llama architecture it gets the same
   rotary Q/K row permutation as the base's weights (`BaseLayout.rows`, shared with
   gguf_export.py).

    >>> peft_target("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight")
    ('model.layers.3.self_attn.q_proj.weight', 'lora_a')
    >>> llama_alpha({"r": 16, "lora_alpha": 32, "use_rslora": True})  # alpha/√r as alpha/r
    128.0
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from thinktime.distill.gguf_export import BaseLayout
from thinktime.errors import ThinktimeError
from thinktime.models.gguf_header import read_header
from thinktime.models.lora import BASE_SHA256, base_sha256

_PARTS = {".lora_A.weight": "lora_a", ".lora_B.weight": "lora_b"}


def peft_target(key: str) -> tuple[str, str]:
    """The HF weight a PEFT state-dict key adapts, and which half of the pair it is."""
    for suffix, part in _PARTS.items():
        if key.endswith(suffix):
            return key.removeprefix("base_model.model.").removesuffix(suffix) + ".weight", part
    raise ThinktimeError(
        f"adapter tensor {key!r} is not a LoRA A or B matrix (embeddings, DoRA and extra "
        "trained modules cannot be written as a llama.cpp adapter); train plain LoRA on linears"
    )


def llama_alpha(config: Mapping[str, Any]) -> float:
    """The alpha llama.cpp needs so that its alpha / r equals PEFT's scale (alpha / r, or
    alpha / √r with rsLoRA); refuses what one alpha per file cannot express."""
    if config.get("alpha_pattern") or config.get("use_dora"):
        raise ThinktimeError(
            "a LoRA with per-module alphas or DoRA cannot be written as a llama.cpp adapter; "
            "train with one lora_alpha and plain LoRA"
        )
    alpha, rank = float(config["lora_alpha"]), int(config["r"])
    if config.get("use_rslora"):
        if config.get("rank_pattern"):
            raise ThinktimeError("rsLoRA with per-module ranks cannot be written for llama.cpp")
        return alpha * math.sqrt(rank)
    return alpha


def write_lora_gguf(
    base: str | Path,
    tensors: Mapping[str, Any],
    config: Mapping[str, Any],
    out: str | Path,
    name: str = "thinktime LoRA adapter",
) -> Path:
    """Write the PEFT adapter `tensors` (state-dict keys → arrays) with its `config`
    (adapter_config.json's fields) as a llama.cpp adapter for `base` at `out`; returns `out`."""
    import gguf

    base = Path(base)
    header = read_header(base)  # gguf-py's reader takes seconds over a vocabulary
    layout = BaseLayout.of(header.fields.get)
    shapes = header.shapes  # ggml order: (in, out)

    # 1) each PEFT A and B under its base tensor's GGUF name, B's rows in llama.cpp's order
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        hf_name, part = peft_target(key)
        data = np.asarray(value, dtype=np.float32)
        target = layout.name(hf_name)
        if part == "lora_b":
            target, data = layout.rows(hf_name, data)
        pairs.setdefault(target, {})[part] = data
    if not pairs:
        raise ThinktimeError("the adapter has no LoRA tensors; was it trained?")

    # 2) every pair must fit its base matrix, as llama.cpp checks when it loads the file
    for target, pair in pairs.items():
        if target not in shapes:
            raise ThinktimeError(f"{base} has no tensor {target}: is it the adapter's base?")
        if set(pair) != {"lora_a", "lora_b"}:
            raise ThinktimeError(f"the adapter has half a LoRA pair for {target}")
        (rank_a, n_in), (n_out, rank_b) = pair["lora_a"].shape, pair["lora_b"].shape
        if (n_in, n_out) != shapes[target][:2] or rank_a != rank_b:
            raise ThinktimeError(
                f"LoRA pair for {target} has A {pair['lora_a'].shape} and B "
                f"{pair['lora_b'].shape}, which do not fit {base}'s {shapes[target]} (in, out)"
            )

    # 3) metadata, then the pairs in f16 (gguf-py turns numpy's (rows, cols) into ggml's ne)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".gguf.partial")
    writer = gguf.GGUFWriter(str(partial), arch=layout.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, llama_alpha(config))
    writer.add_string(BASE_SHA256, base_sha256(base))
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, str(header.fields.get(gguf.Keys.General.NAME) or base.stem))
    for target, pair in sorted(pairs.items()):
        for part in ("lora_a", "lora_b"):
            writer.add_tensor(f"{target}.{part}", pair[part].astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)
    return out


def read_peft_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors and config a PEFT `save_pretrained` folder holds (adapter_model.safetensors,
    adapter_config.json), as float32 arrays."""
    from safetensors.torch import load_file

    folder = Path(folder)
    weights, config = folder / "adapter_model.safetensors", folder / "adapter_config.json"
    if not weights.is_file() or not config.is_file():
        raise ThinktimeError(
            f"{folder} holds no PEFT adapter (adapter_model.safetensors + adapter_config.json); "
            "pass the adapter/ folder `thinktime distill train` wrote"
        )
    tensors = {key: t.float().numpy() for key, t in load_file(str(weights)).items()}
    return tensors, json.loads(config.read_text())


def peft_adapter(peft_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors and config of a live PeftModel's active adapter, as float32 arrays."""
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(peft_model)
    config = peft_model.peft_config[peft_model.active_adapter].to_dict()
    return {key: t.detach().float().cpu().numpy() for key, t in state.items()}, config
