"""GSM8K (Cobbe et al. 2021): grade-school math word problems, gold answer after `####`.

Loads the official JSONL from a local path (or `$THINKTIME_DATA/gsm8k/{split}.jsonl`), else the
Hugging Face dataset `openai/gsm8k` where the network allows. Gold answers lose thousands
separators ("1,000" → "1000").

Example record (test.jsonl, line 1):
    {"question": "Janet’s ducks lay 16 eggs per day. …", "answer": "… #### 18"}

    >>> task = load("train", limit=2)  # doctest: +SKIP
    >>> task.problems[0].id  # doctest: +SKIP
    'gsm8k/train/0'
    >>> task = load(limit=2)  # doctest: +SKIP
    >>> task.problems[0].id, task.problems[0].gold  # doctest: +SKIP
    ('gsm8k/test/0', '18')
"""

from __future__ import annotations

from pathlib import Path

from thinktime.answers.extract import normalize
from thinktime.errors import ThinktimeError
from thinktime.tasks.base import Problem, Task, register_task, select
from thinktime.tasks.source import read_records

HUB_ID = "openai/gsm8k"
SPLITS = ("train", "test")


def gold_answer(solution: str) -> str:
    """The text after `####` in a GSM8K solution, normalised."""
    if "####" not in solution:
        raise ThinktimeError("GSM8K answer field has no '####' gold marker")
    return normalize(solution.rsplit("####", 1)[1])


@register_task("gsm8k")
def load(
    source: str | None = None,
    split: str = "test",
    limit: int | None = None,
    offset: int = 0,
    seed: int | None = None,
    data_dir: Path | None = None,
) -> Task:
    # `gsm8k:train` names a split; `gsm8k:/path/train.jsonl` a file whose stem is the split.
    path: str | None = source
    if source in SPLITS:
        path, split = None, source
    elif source is not None:
        stem = Path(source).stem
        split = stem if stem in SPLITS else split
    records = read_records(path, "gsm8k", split, HUB_ID, hub_config="main", folder=data_dir)
    problems = []
    for index, record in enumerate(records):
        if "question" not in record or "answer" not in record:
            raise ThinktimeError(
                f"GSM8K record {index} lacks 'question' or 'answer': {list(record)}"
            )
        problems.append(
            Problem(f"gsm8k/{split}/{index}", record["question"], gold_answer(record["answer"]))
        )
    return Task("gsm8k", select(problems, limit, offset, seed))
