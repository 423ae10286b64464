"""Write a fine-tuned student back to GGUF so the embedded llama.cpp engine can serve it.

The student was loaded by transformers from a GGUF (dequantised) and trained with LoRA, so only
the LoRA-targeted matrices changed. We copy the base GGUF — every metadata key and every
untouched tensor byte for byte, in its original quantisation — and replace each changed matrix
with its merged weights quantised to Q8_0 (gguf-py can write Q8_0 bit-exactly as llama.cpp does;
it cannot write the k-quants, so the merged matrices are stored at 8 bits instead of ~4.5).

Names map through gguf-py's `TensorNameMap` (the table llama.cpp's converter uses). For the llama
architecture llama.cpp stores Q and K rows permuted for its rotary layout, so those are permuted
the same way (transformers undoes it when loading). `BaseLayout` does the naming and the
permutation for any output rows, so lora_gguf.py lays out a LoRA's B the same way.

    >>> gguf_name("model.layers.3.self_attn.q_proj.weight", "qwen2", 24)
    'blk.3.attn_q.weight'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from thinktime.errors import ThinktimeError

PERMUTED_ARCHS = ("llama",)


@cache
def _name_map(arch: str, n_blocks: int) -> Any:
    """gguf-py's HF → GGUF name table for `arch`, built once (building it is slow)."""
    import gguf

    archs = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in archs:
        raise ThinktimeError(f"GGUF architecture {arch!r} is unknown to gguf-py")
    return gguf.get_tensor_name_map(archs[arch], n_blocks)


def gguf_name(hf_name: str, arch: str, n_blocks: int) -> str:
    """The GGUF tensor name of a Hugging Face parameter name."""
    name = _name_map(arch, n_blocks).get_name(hf_name, try_suffixes=(".weight", ".bias"))
    if name is None:
        raise ThinktimeError(f"no GGUF name for {hf_name!r} in architecture {arch!r}")
    return name


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    """llama.cpp's rotary row permutation (convert_hf_to_gguf.py `LlamaModel.permute`)."""
    heads = n_head_kv if n_head_kv != n_head else n_head
    shaped = weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
    return shaped.swapaxes(1, 2).reshape(weights.shape)


def _field(reader: Any, key: str) -> Any:
    field = reader.get_field(key)
    return field.contents() if field else None


@dataclass(frozen=True)
class BaseLayout:
    """What naming and laying out a weight for a base GGUF needs: its architecture and heads."""

    arch: str
    n_blocks: int
    n_head: int
    n_head_kv: int

    @classmethod
    def of(cls, field: Callable[[str], Any]) -> BaseLayout:
        """The layout of a GGUF whose metadata value for a key is `field(key)` (None if absent)."""
        arch = str(field("general.architecture"))
        n_head = int(field(f"{arch}.attention.head_count"))
        return cls(
            arch=arch,
            n_blocks=int(field(f"{arch}.block_count")),
            n_head=n_head,
            n_head_kv=int(field(f"{arch}.attention.head_count_kv") or n_head),
        )

    def name(self, hf_name: str) -> str:
        """The GGUF name of the HF weight `hf_name`."""
        return gguf_name(hf_name, self.arch, self.n_blocks)

    def rows(self, hf_name: str, rows: np.ndarray) -> tuple[str, np.ndarray]:
        """The GGUF name of `hf_name` and `rows` (its output rows: a weight, or a LoRA B) in
        llama.cpp's order: permuted for rotary Q and K on the llama architecture."""
        target = self.name(hf_name)
        if self.arch in PERMUTED_ARCHS and ".attn_q." in target:
            rows = _permute(rows, self.n_head, self.n_head)
        elif self.arch in PERMUTED_ARCHS and ".attn_k." in target:
            rows = _permute(rows, self.n_head, self.n_head_kv)
        return target, rows


def export_gguf(
    base: str | Path,
    changed: Mapping[str, np.ndarray],
    out: str | Path,
    name: str | None = None,
) -> Path:
    """Copy `base` to `out` with the `changed` HF-named weights replaced (Q8_0); returns `out`."""
    import gguf

    reader = gguf.GGUFReader(str(base))
    layout = BaseLayout.of(lambda key: _field(reader, key))
    arch = layout.arch

    # 1) merged weights in GGUF naming and layout, quantised
    replacements: dict[str, np.ndarray] = {}
    for hf_name, weights in changed.items():
        target, data = layout.rows(hf_name, np.asarray(weights, dtype=np.float32))
        replacements[target] = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
    present = {tensor.name for tensor in reader.tensors}
    if missing := sorted(set(replacements) - present):
        raise ThinktimeError(f"{base} has no tensors {missing[:3]}: is it the student's base?")

    # 2) metadata copied key by key (as gguf-py's gguf_new_metadata does), name updated
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".gguf.partial")
    writer = gguf.GGUFWriter(str(partial), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value = field.contents()
        if field.name == gguf.Keys.General.NAME and name:
            value = name
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub)

    # 3) tensors: replaced ones as Q8_0, the rest byte for byte
    for tensor in reader.tensors:
        if tensor.name in replacements:
            data = replacements[tensor.name]
            writer.add_tensor_info(
                tensor.name, data.shape, data.dtype, data.nbytes, gguf.GGMLQuantizationType.Q8_0
            )
        else:
            writer.add_tensor_info(
                tensor.name,
                tensor.data.shape,
                tensor.data.dtype,
                tensor.data.nbytes,
                tensor.tensor_type,
            )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        data = replacements.get(tensor.name, tensor.data)
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()
    partial.replace(out)
    return out
