"""A problem: an id, the question text, and its gold answer (already extracted).

>>> Problem("gsm8k/test/0", "2+2?", "4").gold
'4'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    gold: str
    meta: dict[str, Any] = field(default_factory=dict)
