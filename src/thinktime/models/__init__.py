"""Models: known short names, resolution to a local GGUF file, and the shape read from it."""

from thinktime.models.card import ModelCard, read_card
from thinktime.models.known import DEFAULT_MODEL, KNOWN_MODELS, KnownModel
from thinktime.models.resolve import cache_dir, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "KnownModel",
    "ModelCard",
    "cache_dir",
    "read_card",
    "resolve_model",
]
