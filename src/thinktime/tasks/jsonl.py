"""Any JSONL file of questions and answers, with configurable field names.

>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "qa.jsonl"
>>> _ = path.write_text(json.dumps({"q": "2+2?", "a": "4"}) + "\\n")
>>> load(str(path), question_field="q", answer_field="a").problems[0].gold
'4'
"""

from __future__ import annotations

from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import Problem, Task, register_task, select
from thinktime.tasks.source import read_jsonl


@register_task("jsonl")
def load(
    path: str,
    question_field: str = "question",
    answer_field: str = "answer",
    id_field: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    seed: int | None = None,
) -> Task:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ThinktimeError(f"data file not found: {file}; pass an existing .jsonl path")
    problems = []
    for index, record in enumerate(read_jsonl(file)):
        missing = [f for f in (question_field, answer_field) if f not in record]
        if missing:
            raise ThinktimeError(
                f"{file} record {index} has no field {missing[0]!r} (it has: {', '.join(record)}); "
                "set question_field= / answer_field="
            )
        pid = str(record[id_field]) if id_field and id_field in record else f"{file.stem}/{index}"
        problems.append(Problem(pid, str(record[question_field]), str(record[answer_field])))
    return Task(f"jsonl:{file.name}", select(problems, limit, offset, seed))
