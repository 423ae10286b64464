"""`thinktime view`: the trace viewer over bench stores, in the browser; or their export.

$ thinktime view --store runs/gsm8k.db             # open http://127.0.0.1:8765
thinktime view: listening on http://127.0.0.1:8765 (1 store; Ctrl-C stops)
$ thinktime view --store runs/gsm8k.db --store runs/math500.db
$ thinktime view --store runs/gsm8k.db --export out/lm-eval  # = thinktime export --format lm-eval
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from thinktime.cli.common import console, errors, fail, listen_url, store_option, within
from thinktime.errors import ThinktimeError

if TYPE_CHECKING:
    from thinktime.bench.store import Store


def view(
    stores: Annotated[list[Path] | None, store_option("Repeat for several.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="On loopback: answer this Host name too (a proxy's); repeatable."),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Write every run to this folder in lm-eval's layout and exit."),
    ] = None,
) -> None:
    """Look at the thinking: runs, questions, every sample and vote, in the browser."""
    import ipaddress

    from thinktime.bench.store import Store

    if not stores:
        raise fail("name at least one store, e.g. `thinktime view --store runs/gsm8k.db`")
    try:
        within("--port", port, 1, 65535)
        opened = [Store(path, create=False, readonly=True) for path in stores]
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if export is not None:
        _export(opened, export)
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise fail(f"--host {host!r} is not an IP address or localhost") from None
    if not loopback:
        errors.print(f"warning: serving {len(stores)} store(s) to every host that reaches {host}")
    from thinktime.serve.process import run
    from thinktime.view.app import create_view_app

    for store in opened:
        store.close()
    # on loopback, only loopback (or allowed) Host names: a web page cannot rebind to it
    app = create_view_app(stores, allowed_hosts=(allow_host or ()) if loopback else None)
    count = f"{len(stores)} store{'s' if len(stores) > 1 else ''}"
    where = f"{listen_url(host, port)} ({count}; Ctrl-C stops)"
    run(app, host, port, announce=f"thinktime view: listening on {where}")


def _export(stores: list[Store], out: Path) -> None:
    """Each store's every run, in lm-eval's layout, under `out/<model>/` (as `thinktime export
    --format lm-eval` writes it)."""
    from thinktime.exports import export

    written = []
    try:
        for store in stores:
            written += export(store, "lm-eval", out)
    except OSError as exc:
        raise fail(
            f"cannot write the export to {out} ({exc.strerror}); pass --export with a writable "
            "folder"
        ) from None
    for path in written:
        console.print(str(path), highlight=False, soft_wrap=True)
    errors.print(f"wrote {len(written)} files to {out}", highlight=False, soft_wrap=True)
