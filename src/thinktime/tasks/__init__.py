"""Tasks: question sets with gold answers, one module per source."""

from thinktime.tasks.base import Problem

__all__ = ["Problem"]
