"""Model profiles for planning: parameters (total and active), layers, KV width, bytes/weight.

From a GGUF (via the model card), a Hugging Face `config.json`, or by hand — e.g. DeepSeek-R1 /
V3, a mixture of experts with 671 B parameters of which 37 B are active per token.

    >>> r1 = KNOWN_PROFILES["deepseek-r1"]
    >>> r1.active_params / 1e9, r1.kv_bytes_per_token
    (37.0, 70272)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.models.card import ModelCard

# bytes per weight of common GGUF file types (general.file_type) — effective, incl. scales
GGUF_BYTES_PER_WEIGHT = {0: 4.0, 1: 2.0, 7: 1.0625, 15: 0.606, 17: 0.69, 18: 0.82, 3: 0.625}


@dataclass(frozen=True)
class ModelProfile:
    name: str
    params: float  # all weights (memory)
    active_params: float  # weights used per token (compute and bandwidth)
    n_layers: int
    kv_heads: int
    head_dim: int
    bytes_per_weight: float = 2.0
    kv_bytes_per_value: float = 2.0
    # mixture of experts: routed expert weights, experts per layer, experts each token uses
    routed_params: float = 0.0
    experts: int = 0
    experts_per_token: int = 0

    @property
    def weight_bytes(self) -> float:
        return self.params * self.bytes_per_weight

    def bytes_read_per_step(self, batch: int) -> float:
        """Weight bytes one decode step reads. Dense: the active weights. MoE: the shared
        weights plus the routed experts the batch touches — with k of E experts per token and
        uniform routing, a share 1 − (1 − k/E)^B of them, so large batches read nearly all."""
        if not self.experts:
            return self.active_weight_bytes
        shared = self.active_params - self.routed_params * self.experts_per_token / self.experts
        touched = 1 - (1 - self.experts_per_token / self.experts) ** batch
        return (shared + self.routed_params * touched) * self.bytes_per_weight

    @property
    def active_weight_bytes(self) -> float:
        return self.active_params * self.bytes_per_weight

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V for every layer: 2 · layers · kv_heads · head_dim · bytes."""
        return int(2 * self.n_layers * self.kv_heads * self.head_dim * self.kv_bytes_per_value)

    @classmethod
    def from_card(cls, card: ModelCard, name: str, file_bytes: int | None = None) -> ModelProfile:
        """From a GGUF's card; bytes per weight measured from the file size when given."""
        file_type = card.file_type if card.file_type is not None else 1
        per_weight = (
            file_bytes / card.n_params if file_bytes else GGUF_BYTES_PER_WEIGHT.get(file_type, 2.0)
        )
        return cls(
            name=name,
            params=card.n_params,
            active_params=card.n_matmul_params,
            n_layers=card.n_layers,
            kv_heads=card.n_kv_heads,
            head_dim=card.head_dim or 64,
            bytes_per_weight=per_weight,
        )

    @classmethod
    def from_hf_config(
        cls, path: str | Path, name: str | None = None, bytes_per_weight: float = 2.0
    ) -> ModelProfile:
        """Estimate from a transformers `config.json` (dense, or MoE with routed experts)."""
        try:
            config = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ThinktimeError(f"cannot read HF config {path}: {exc}") from None
        hidden, layers = config["hidden_size"], config["num_hidden_layers"]
        heads = config["num_attention_heads"]
        kv_heads = config.get("num_key_value_heads", heads)
        head_dim = config.get("head_dim", hidden // heads)
        ffn = config.get("intermediate_size", 4 * hidden)
        vocab = config.get("vocab_size", 32000)
        attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
        experts = config.get("n_routed_experts") or config.get("num_local_experts") or 0
        active_experts = config.get("num_experts_per_tok", 0)
        expert_ffn = config.get("moe_intermediate_size", ffn)
        dense_mlp = 3 * hidden * ffn
        if experts:
            shared = config.get("n_shared_experts", 0)
            total_mlp = 3 * hidden * expert_ffn * (experts + shared)
            active_mlp = 3 * hidden * expert_ffn * (active_experts + shared)
        else:
            total_mlp = active_mlp = dense_mlp
        params = layers * (attention + total_mlp) + 2 * vocab * hidden
        active = layers * (attention + active_mlp) + vocab * hidden
        return cls(
            name or Path(path).parent.name,
            params,
            active,
            layers,
            kv_heads,
            head_dim,
            bytes_per_weight,
        )


KNOWN_PROFILES: dict[str, ModelProfile] = {
    # DeepSeek-V3/R1: 671 B total, 37 B active (MoE); 61 layers; MLA caches a 512-d latent +
    # 64-d rope key per layer, i.e. 576 values per token per layer (modelled as 1 "head").
    # (modelled as K and V of one 288-wide head: 2 · 288 = 576 values)
    # Routed experts: 256 per MoE layer, 8 per token, ≈ 654 B of the weights (the rest shared).
    "deepseek-r1": ModelProfile(
        "deepseek-r1",
        671e9,
        37e9,
        61,
        1,
        288,
        bytes_per_weight=1.0,
        routed_params=654e9,
        experts=256,
        experts_per_token=8,
    ),
    # a dense 7 B (Llama/Qwen-7B shape: 28–32 layers, 4–8 KV heads of 128)
    "dense-7b": ModelProfile("dense-7b", 7e9, 7e9, 32, 8, 128, bytes_per_weight=2.0),
    "dense-70b": ModelProfile("dense-70b", 70e9, 70e9, 80, 8, 128, bytes_per_weight=2.0),
}
