"""A model's shape, read from GGUF metadata once and cached beside the cache dir.

The shape feeds the FLOPs estimate: matmul parameters (everything but the token-embedding
lookup), layers, and the attention width (query heads × head dim).

    >>> card = read_card(resolve_model("qwen2.5-coder-0.5b"))  # doctest: +SKIP
    >>> card.n_layers, card.d_attn  # doctest: +SKIP
    (24, 896)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thinktime.errors import ModelError
from thinktime.models.resolve import cache_dir


@dataclass(frozen=True)
class ModelCard:
    """What the bill needs to know about a model."""

    name: str
    architecture: str
    n_params: int  # every weight in the file
    n_matmul_params: int  # weights used in a matrix multiply per token (no embedding lookup)
    n_layers: int
    d_model: int
    d_attn: int  # query heads × head dim
    n_kv_heads: int
    context_length: int
    file_type: int | None = None
    head_dim: int = 0  # 0 when unknown (cards cached before it was recorded)


def _field(reader: Any, key: str) -> Any:
    fields = reader.fields
    if key not in fields:
        return None
    return fields[key].contents()


def card_from_gguf(path: Path) -> ModelCard:
    """Parse GGUF metadata and tensor shapes (slow for big vocabularies: use `read_card`)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:
        raise ModelError(f"cannot read GGUF file {path}: {exc}; is it a GGUF model?") from None
    arch = str(_field(reader, "general.architecture"))
    n_layers = int(_field(reader, f"{arch}.block_count") or 0)
    d_model = int(_field(reader, f"{arch}.embedding_length") or 0)
    n_heads = int(_field(reader, f"{arch}.attention.head_count") or 0)
    head_dim = _field(reader, f"{arch}.attention.key_length")
    head_dim = int(head_dim) if head_dim else d_model // max(n_heads, 1)
    d_attn = n_heads * head_dim
    n_params = 0
    embedding = 0
    has_output = False
    for tensor in reader.tensors:
        n_params += int(tensor.n_elements)
        if tensor.name == "token_embd.weight":
            embedding = int(tensor.n_elements)
        has_output = has_output or tensor.name == "output.weight"
    # tied embeddings: the LM head multiplies by the embedding matrix, so it costs FLOPs too
    n_matmul = n_params - embedding + (0 if has_output else embedding)
    return ModelCard(
        name=str(_field(reader, "general.name") or path.stem),
        architecture=arch,
        n_params=n_params,
        n_matmul_params=n_matmul,
        n_layers=n_layers,
        d_model=d_model,
        d_attn=d_attn,
        n_kv_heads=int(_field(reader, f"{arch}.attention.head_count_kv") or n_heads),
        context_length=int(_field(reader, f"{arch}.context_length") or 0),
        file_type=int(ft) if (ft := _field(reader, "general.file_type")) is not None else None,
        head_dim=head_dim,
    )


def read_card(path: Path) -> ModelCard:
    """`card_from_gguf`, cached as JSON keyed by the file's path, size and mtime."""
    stat = path.stat()
    identity = f"v2|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"  # v2: head_dim recorded
    key = hashlib.sha1(identity.encode()).hexdigest()
    cached = cache_dir() / "cards" / f"{key}.json"
    if cached.is_file():
        return ModelCard(**json.loads(cached.read_text()))
    card = card_from_gguf(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(asdict(card)))
    return card
