"""MkDocs hook: `<!-- cli-reference -->` in a page becomes the reference of every `thinktime`
subcommand, generated in-process from the typer app (typer's own Markdown docs generator), so
the reference cannot drift from the code. Not a page: mkdocs.yml excludes docs/**/*.py."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.cli import get_docs_for_click

MARKER = "<!-- cli-reference -->"


def reference() -> str:
    from thinktime.cli import app

    command = typer.main.get_command(app)
    with typer.Context(command, info_name="thinktime") as ctx:
        ctx.ensure_object(dict)
        text = get_docs_for_click(obj=command, ctx=ctx, name="thinktime")
    # one level below the page's `## Reference`
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m[1]) + 2) + " ", text, flags=re.MULTILINE)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(MARKER, reference()) if MARKER in markdown else markdown
