"""Are two answers the same? Fast string/number checks first, then math-verify, time-bounded.

math-verify bounds its own time with `signal.alarm`, which only works on the main thread. We
turn that off and bound it ourselves: each check runs on a small daemon thread pool and is
abandoned (treated as "not equivalent") after `timeout` seconds, so a pathological expression
cannot hang a strategy running on a worker thread.

    >>> equivalent("18", "18.0")
    True
    >>> equivalent("\\\\frac{1}{2}", "0.5")
    True
    >>> equivalent("17", "18")
    False
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache, lru_cache

from thinktime.answers.extract import normalize

log = logging.getLogger(__name__)
# math-verify warns on every call that we disabled its signal-based timeout; we bound it here
logging.getLogger("math_verify").setLevel(logging.ERROR)


@cache
def _pool() -> ThreadPoolExecutor:
    """The math-verify threads, started by the first comparison that needs them (not at import)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="math-verify")


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _math_verify(gold: str, answer: str) -> bool:
    from math_verify import parse, verify

    # wrap in $…$ so math-verify's LaTeX parser treats plain text as math
    gold_parsed = parse(f"${gold}$", parsing_timeout=None)
    answer_parsed = parse(f"${answer}$", parsing_timeout=None)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


@lru_cache(maxsize=4096)
def equivalent(a: str | None, b: str | None, timeout: float = 5.0) -> bool:
    """True when answers `a` and `b` are mathematically the same (None never matches)."""
    if a is None or b is None:
        return False
    a, b = normalize(a), normalize(b)
    if a == b:
        return True
    x, y = _as_float(a), _as_float(b)
    if x is not None and y is not None:
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
    future = _pool().submit(_math_verify, a, b)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        log.warning(
            "math-verify took over %.1fs comparing %r and %r; treating as different", timeout, a, b
        )
        return False
    except Exception as exc:  # math-verify/sympy can raise on odd input: not equivalent
        log.debug("math-verify failed on %r vs %r: %s", a, b, exc)
        return False
