"""Backends: engines that turn `Request`s into `Generation`s behind one protocol.

>>> from thinktime.backends import make_backend
>>> backend = make_backend("fake")
>>> backend.name
'fake'
"""

from thinktime.backends.base import (
    BACKENDS,
    Backend,
    Cancellable,
    ChatTemplating,
    DerivesSeeds,
    EngineMetrics,
    Tokenizing,
    make_backend,
    register_backend,
)
from thinktime.backends.options import BackendOptions, NoOptions
from thinktime.backends.thinking import ThinkTags

__all__ = [
    "BACKENDS", "Backend", "BackendOptions", "Cancellable", "ChatTemplating", "DerivesSeeds",
    "EngineMetrics", "NoOptions", "ThinkTags", "Tokenizing", "make_backend",
    "register_backend",
]  # fmt: skip
