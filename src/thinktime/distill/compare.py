"""Before/after: the base student, the distilled student and the teacher on the same questions.

The three arms are ordinary bench results (one store, one task), so accuracy, tokens and FLOPs
per answer come from `bench.results.summarize`. The headline numbers:

- *recovery*: the share of the teacher's accuracy gain over the base that the student keeps,
  (student − base) / (teacher − base);
- *compute share*: the student's FLOPs per answer as a share of the teacher's.

    >>> round(recovery(base=0.25, student=0.30, teacher=0.45), 3)
    0.25
    >>> recovery(base=0.3, student=0.3, teacher=0.3) is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from thinktime.bench.results import Summary, summarize
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.render import si

ROLES = ("base", "student", "teacher")


def recovery(base: float, student: float, teacher: float) -> float | None:
    """(student − base) / (teacher − base), or None when the teacher gains nothing."""
    gain = teacher - base
    return None if abs(gain) < 1e-12 else (student - base) / gain


@dataclass
class Comparison:
    arms: dict[str, Summary]  # role → summary

    @property
    def recovery(self) -> float | None:
        a = self.arms
        return recovery(a["base"].accuracy, a["student"].accuracy, a["teacher"].accuracy)

    @property
    def compute_share(self) -> float | None:
        student, teacher = self.arms["student"].flops, self.arms["teacher"].flops
        return student / teacher if student and teacher else None

    def headline(self) -> str:
        a = self.arms
        share = self.compute_share
        text = (
            f"student {a['student'].accuracy:.1%} vs base {a['base'].accuracy:.1%} vs teacher "
            f"{a['teacher'].accuracy:.1%}"
        )
        if self.recovery is not None:
            text += f"; the student recovers {self.recovery:.0%} of the teacher's gain"
        if share is not None:
            text += f" at {share:.0%} of its FLOPs per answer"
        return text

    def markdown(self) -> str:
        lines = [
            "| arm | model | config | n | accuracy [95% CI] | tokens/answer | FLOPs/answer |",
            "|---|---|---|---|---|---|---|",
        ]
        for role in ROLES:
            s = self.arms[role]
            lines.append(
                f"| {role} | {s.model} | {s.config} | {s.n} | {s.accuracy:.1%} "
                f"[{s.ci[0]:.1%}, {s.ci[1]:.1%}] | {s.tokens:.0f} | {si(s.flops)} |"
            )
        return "\n".join(lines)


def compare(store: Store, task: str, arms: dict[str, tuple[str, str]]) -> Comparison:
    """Summaries of the (model, config) of each role in `arms`, from `store`."""
    found = {(s.model, s.config): s for s in summarize(store, task)}
    missing = [f"{role} ({m} · {c})" for role, (m, c) in arms.items() if (m, c) not in found]
    if missing:
        raise ThinktimeError(f"no results in the store for: {', '.join(missing)}")
    counts = {found[arm].n for arm in arms.values()}
    if len(counts) > 1:
        raise ThinktimeError(f"arms ran on different numbers of questions {sorted(counts)}")
    return Comparison({role: found[arm] for role, arm in arms.items()})
