"""Hardware profiles: peak FLOP/s, memory bandwidth and size, price and power of one device.

Shipped in `hardware.toml`; `THINKTIME_HARDWARE` names a user file that adds or overrides
entries, and `thinktime plan calibrate` writes a measured `cpu` entry into the user cache.

    >>> h100 = load_hardware()["H100"]
    >>> h100.memory_bandwidth / 1e12
    3.35
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.models.resolve import cache_dir


@dataclass(frozen=True)
class Hardware:
    name: str
    bf16_flops: float  # dense peak FLOP/s at 16-bit
    fp8_flops: float  # dense peak FLOP/s at 8-bit (quantised weights and activations)
    memory_bandwidth: float  # bytes/s
    memory_bytes: float
    usd_per_hour: float
    watts: float
    # fixed seconds per decode step that neither bandwidth nor FLOPs explain (kernel launches,
    # thread sync, sampling); measured by `thinktime plan calibrate`, 0 where not measured
    step_overhead: float = 0.0


def calibrated_path() -> Path:
    return cache_dir().parent / "hardware-calibrated.toml"


def _parse(text: str, origin: str) -> dict[str, Hardware]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThinktimeError(f"bad hardware file {origin}: {exc}") from None
    allowed = [f.name for f in fields(Hardware) if f.name != "name"]
    optional = {"step_overhead"}
    table = {}
    for name, entry in data.items():
        missing = [k for k in allowed if k not in entry and k not in optional]
        unknown = [k for k in entry if k not in allowed]
        if missing or unknown:
            problem = f"missing {missing}" if missing else f"unknown {unknown}"
            raise ThinktimeError(
                f"hardware {name!r} in {origin}: {problem}; fields are: {', '.join(allowed)}"
            )
        table[name] = Hardware(name=name, **{k: float(entry[k]) for k in allowed if k in entry})
    return table


def load_hardware() -> dict[str, Hardware]:
    shipped = resources.files("thinktime.plan").joinpath("hardware.toml").read_text()
    table = _parse(shipped, "thinktime/plan/hardware.toml")
    for path in (calibrated_path(), os.environ.get("THINKTIME_HARDWARE")):
        if path and Path(path).is_file():
            table.update(_parse(Path(path).read_text(), str(path)))
        elif path and path != calibrated_path():
            raise ThinktimeError(f"hardware file not found: {path}; fix THINKTIME_HARDWARE")
    return table
