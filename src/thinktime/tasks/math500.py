"""MATH-500 (Lightman et al. 2023): the PRM800K test split of MATH, gold answer in `answer`.

Loads `$THINKTIME_DATA/math500/test.jsonl`, a local path, or `HuggingFaceH4/MATH-500`.
`level` (1–5) and `subject` filter the set.

Example record:
    {"problem": "Convert the point $(0,3)$ …", "subject": "Precalculus", "level": 2,
     "answer": "\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)",
     "unique_id": "test/precalculus/807.json"}
"""

from __future__ import annotations

from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import Problem, Task, register_task, select
from thinktime.tasks.source import read_records

HUB_ID = "HuggingFaceH4/MATH-500"


@register_task("math500")
def load(
    source: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    seed: int | None = None,
    level: int | None = None,
    subject: str | None = None,
    data_dir: Path | None = None,
) -> Task:
    problems = []
    for index, record in enumerate(
        read_records(source, "math500", "test", HUB_ID, folder=data_dir)
    ):
        if "problem" not in record or "answer" not in record:
            raise ThinktimeError(
                f"MATH-500 record {index} lacks 'problem' or 'answer': {list(record)}"
            )
        if level is not None and int(record.get("level", 0)) != level:
            continue
        if subject is not None and record.get("subject", "").lower() != subject.lower():
            continue
        meta = {"level": record.get("level"), "subject": record.get("subject")}
        pid = record.get("unique_id", f"math500/{index}")
        problems.append(Problem(f"math500/{pid}", record["problem"], str(record["answer"]), meta))
    return Task("math500", select(problems, limit, offset, seed))
