"""GSM8K (Cobbe et al. 2021): grade-school math word problems, gold answer after `####`.

Loads the official JSONL from a local path, or from the Hugging Face dataset `openai/gsm8k`
where the network allows. Thousands separators in gold answers are dropped ("1,000" → "1000").

Example record (test.jsonl, line 1):
    {"question": "Janet’s ducks lay 16 eggs per day. …", "answer": "… #### 18"}

    >>> problems = load("../shared/data/gsm8k/test.jsonl", limit=2)  # doctest: +SKIP
    >>> problems[0].id, problems[0].gold  # doctest: +SKIP
    ('gsm8k/test/0', '18')
"""

from __future__ import annotations

import json
from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import Problem
from thinktime.verifiers.extract import normalize

HUB_ID = "openai/gsm8k"


def gold_answer(solution: str) -> str:
    """The text after `####` in a GSM8K solution, normalised."""
    if "####" not in solution:
        raise ThinktimeError("GSM8K answer field has no '####' gold marker")
    return normalize(solution.rsplit("####", 1)[1])


def _records(source: str, split: str) -> list[dict]:
    path = Path(source).expanduser()
    if path.is_file():
        try:
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ThinktimeError(
                f"{path} is not JSONL ({exc}); pass the GSM8K .jsonl file"
            ) from None
    if source == HUB_ID:
        try:
            from datasets import load_dataset

            return list(load_dataset(HUB_ID, "main", split=split))
        except Exception as exc:
            raise ThinktimeError(
                f"could not load {HUB_ID} from the hub ({type(exc).__name__}); "
                "download test.jsonl and pass its path"
            ) from None
    raise ThinktimeError(f"GSM8K file not found: {path}; pass a path to test.jsonl or {HUB_ID}")


def load(
    source: str, split: str = "test", limit: int | None = None, offset: int = 0
) -> list[Problem]:
    """Problems `offset`…`offset+limit` of the set at `source` (a .jsonl path or the hub id)."""
    records = _records(source, split)
    chosen = records[offset : None if limit is None else offset + limit]
    problems = []
    for index, record in enumerate(chosen, start=offset):
        if "question" not in record or "answer" not in record:
            raise ThinktimeError(
                f"GSM8K record {index} lacks 'question' or 'answer': {list(record)}"
            )
        problems.append(
            Problem(f"gsm8k/{split}/{index}", record["question"], gold_answer(record["answer"]))
        )
    return problems
