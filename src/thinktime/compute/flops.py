"""Forward-pass FLOPs of a generation, from the model's shape.

Per token, a dense transformer spends ≈ 2·N FLOPs on its matmul weights (N = parameters used
in a matrix multiply; Kaplan et al. 2020, "Scaling Laws for Neural Language Models", §2.1) plus
attention over the tokens before it: at position t, QKᵀ and A·V cost 2·t·d_attn multiply-adds
per layer, i.e. 4·n_layers·t·d_attn FLOPs.

Prefill processes only the prompt tokens the engine did not have cached; n samples that share
one prefill pay for the prompt once and then each decode their own tokens.

    >>> from thinktime.models.card import ModelCard
    >>> card = ModelCard("m", "llama", 10, 8, 2, 4, 4, 1, 128)
    >>> attention_flops(card, start=0, count=3)   # positions 0,1,2 → 4·2·(0+1+2)·4
    96
    >>> generation_flops(card, prompt_length=3, prefilled=3, completion_tokens=(2,))
    400
"""

from __future__ import annotations

from collections.abc import Iterable

from thinktime.models.card import ModelCard


def attention_flops(card: ModelCard, start: int, count: int) -> int:
    """Attention FLOPs of `count` tokens at positions start, start+1, …, start+count-1."""
    if count <= 0:
        return 0
    # sum of positions start..start+count-1
    positions = count * start + count * (count - 1) // 2
    return 4 * card.n_layers * card.d_attn * positions


def generation_flops(
    card: ModelCard, prompt_length: int, prefilled: int, completion_tokens: Iterable[int]
) -> int:
    """FLOPs to prefill `prefilled` uncached prompt tokens and decode each completion.

    `prefilled` counts prompt tokens computed (not cached); a prompt processed twice counts twice.
    """
    flops = 0
    # 1) prefill: the uncached prompt tokens, at the last positions of the prompt
    if prefilled > 0:
        reps, tail = divmod(prefilled, max(prompt_length, 1))
        per_prompt = 2 * card.n_matmul_params * prompt_length + attention_flops(
            card, 0, prompt_length
        )
        flops += reps * per_prompt
        flops += 2 * card.n_matmul_params * tail + attention_flops(card, prompt_length - tail, tail)
    # 2) decode: each sample's tokens follow the shared prompt
    for tokens in completion_tokens:
        flops += 2 * card.n_matmul_params * tokens + attention_flops(card, prompt_length, tokens)
    return flops
