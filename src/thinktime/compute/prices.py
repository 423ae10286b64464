"""Dollar prices per model, which the user sets.

Prices are USD per million prompt / completion tokens (as hosted APIs bill) plus an optional
USD per hour of wall time (how a rented machine bills). The shipped table `prices.toml` holds
the known local models at 0 — running them here costs only your machine — and a user file
(`THINKTIME_PRICES=/path/prices.toml` or `price_file=`) overrides or adds entries:

    [models."qwen2.5-coder-0.5b"]
    usd_per_hour = 0.40          # e.g. the machine's hourly rent

    >>> Price(prompt_usd_per_mtok=1.0, completion_usd_per_mtok=2.0).dollars(1_000_000, 500_000, 0.0)
    2.0
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from thinktime.errors import ThinktimeError


@dataclass(frozen=True)
class Price:
    prompt_usd_per_mtok: float = 0.0
    completion_usd_per_mtok: float = 0.0
    usd_per_hour: float = 0.0

    def dollars(self, prompt_tokens: int, completion_tokens: int, seconds: float) -> float:
        return (
            prompt_tokens * self.prompt_usd_per_mtok / 1e6
            + completion_tokens * self.completion_usd_per_mtok / 1e6
            + seconds * self.usd_per_hour / 3600
        )


PriceTable = dict[str, Price]


def _parse(text: str, origin: str) -> PriceTable:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThinktimeError(f"bad price file {origin}: {exc}") from None
    table: PriceTable = {}
    for name, entry in data.get("models", {}).items():
        try:
            table[name] = Price(**entry)
        except TypeError:
            allowed = "prompt_usd_per_mtok, completion_usd_per_mtok, usd_per_hour"
            raise ThinktimeError(
                f"bad price entry for {name!r} in {origin}: {entry}; allowed keys: {allowed}"
            ) from None
    return table


def load_prices(price_file: str | Path | None = None) -> PriceTable:
    """The shipped table, overridden by `price_file` or `$THINKTIME_PRICES` when given; each
    file is parsed once (again only when it changes), not on every answer."""
    table = dict(_shipped())
    user = price_file or os.environ.get("THINKTIME_PRICES")
    if user:
        path = Path(user).expanduser()
        if not path.is_file():
            raise ThinktimeError(f"price file not found: {path}; fix THINKTIME_PRICES or the path")
        table.update(_user_table(str(path), path.stat().st_mtime_ns))
    return table


@cache
def _shipped() -> PriceTable:
    text = resources.files("thinktime.compute").joinpath("prices.toml").read_text()
    return _parse(text, "thinktime/compute/prices.toml")


@lru_cache(maxsize=8)
def _user_table(path: str, mtime_ns: int) -> PriceTable:
    """A user's price file, parsed once per version of it (`mtime_ns` keys the cache)."""
    return _parse(Path(path).read_text(), path)
