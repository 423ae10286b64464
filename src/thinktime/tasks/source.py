"""Read a dataset's records from a local JSONL file, `$THINKTIME_DATA`, or the Hugging Face hub.

>>> read_records("/no/such.jsonl", "gsm8k", "test", "openai/gsm8k")
Traceback (most recent call last):
thinktime.errors.ThinktimeError: data file not found: /no/such.jsonl; ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import data_dir


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ThinktimeError(
                f"{path}:{number} is not JSON ({exc.msg}); pass a JSONL file"
            ) from None
    return records


def read_records(
    source: str | None,
    name: str,
    split: str,
    hub_id: str,
    hub_config: str | None = None,
    folder: Path | None = None,
) -> list[dict[str, Any]]:
    """Records from `source` (a .jsonl path or the hub id), else the copy in `folder`
    (default $THINKTIME_DATA)."""
    if source is None:
        local = folder or data_dir()
        candidate = local / name / f"{split}.jsonl" if local else None
        source = str(candidate) if candidate and candidate.is_file() else hub_id
    if source == hub_id:
        try:
            from datasets import load_dataset

            return list(load_dataset(hub_id, hub_config, split=split))
        except Exception as exc:
            raise ThinktimeError(
                f"could not load {hub_id} from the Hugging Face hub ({type(exc).__name__}); "
                f"download {split}.jsonl and pass its path, or set THINKTIME_DATA to a folder "
                f"holding {name}/{split}.jsonl"
            ) from None
    path = Path(source).expanduser()
    if not path.is_file():
        raise ThinktimeError(f"data file not found: {path}; pass a .jsonl path or {hub_id}")
    return read_jsonl(path)
