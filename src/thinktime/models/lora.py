"""LoRA adapter GGUFs, checked against the base model they are applied to.

A LoRA adapter (written by `thinktime distill train`, see distill/lora_gguf.py) is a small GGUF
that llama.cpp adds to a base model's matrices when it loads them: W x + (alpha / r) B A x.
llama.cpp checks only that the adapter's tensor names and shapes fit the base, which every
model of the same family and size passes: an adapter trained on one Qwen2.5-0.5B applied to
another would load and quietly produce nonsense. So the adapter records the sha256 of the base
GGUF it was trained on (`adapter.base_sha256`), and `check_adapter` refuses any other base with
one line before the engine starts.

    >>> import tempfile, gguf
    >>> folder = Path(tempfile.mkdtemp())
    >>> writer = gguf.GGUFWriter(str(folder / "a.gguf"), arch="llama")
    >>> writer.add_type(gguf.GGUFType.ADAPTER)
    >>> writer.add_string(BASE_SHA256, "0" * 64)
    >>> writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.close()
    >>> (folder / "base.gguf").write_bytes(b"GGUF")
    4
    >>> check_adapter(folder / "a.gguf", folder / "base.gguf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ModelError: LoRA adapter .../a.gguf was trained on another base model ...
"""

from __future__ import annotations

from pathlib import Path

from thinktime.errors import ModelError
from thinktime.models.gguf_header import read_header
from thinktime.models.resolve import sha256_of

BASE_SHA256 = "adapter.base_sha256"  # the metadata key: sha256 of the base GGUF, hex


def base_sha256(path: Path) -> str:
    """The sha256 of a base GGUF: from the `.ok` marker an assembled known model left beside
    it (written once its hash was checked), else hashed now."""
    marker = path.with_suffix(".ok")
    if marker.is_file():
        return marker.read_text().strip()
    return sha256_of(path)


def check_adapter(adapter: Path, base: Path) -> None:
    """Raise a one-line `ModelError` unless `adapter` is a LoRA adapter GGUF for `base`.

    An adapter written elsewhere (llama.cpp's convert_lora_to_gguf.py) records no base: it is
    left to llama.cpp's own name and shape checks.
    """
    if not adapter.is_file():
        raise ModelError(f"LoRA adapter not found: {adapter}; check the path")
    fields = read_header(adapter).fields
    if fields.get("general.type") != "adapter":
        raise ModelError(
            f"{adapter} is a model, not a LoRA adapter; pass it as the model (-m) instead"
        )
    expected = fields.get(BASE_SHA256)
    if expected is None:
        return
    if base_sha256(base) != expected:
        raise ModelError(
            f"LoRA adapter {adapter} was trained on another base model (sha256 {expected[:12]}…), "
            f"not {base}; load it with the model it was trained on"
        )
