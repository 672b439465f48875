"""``pwsk standalone``: run the whole platform in one process (controller, invoker, store)."""

from __future__ import annotations

import contextlib
import inspect
from pathlib import Path
from typing import Any

import click

GUEST_AUTH = (
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)


@click.command("standalone")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3233, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep entities and activations here (default: in memory / a temp dir).",
)
@click.option("--no-demo", "no_demo", is_flag=True, help="Do not preload the demo actions.")
def standalone(host: str, port: int, data_dir: Path | None, no_demo: bool) -> None:
    """Run a single-node server until Ctrl-C, like OpenWhisk's standalone jar.

    \b
      pwsk standalone
      pwsk property set --apihost http://127.0.0.1:3233 --auth <guest key>
      pwsk action create hello hello.py && pwsk action invoke hello -r
    """
    # Imported here: the server stack is heavy and no other command needs it.
    from pwsk.standalone import run

    # ``run(host, port, data_dir)`` is the contract; a ``demo`` switch is passed if offered.
    extra: dict[str, Any] = {}
    if "demo" in inspect.signature(run).parameters:
        extra["demo"] = not no_demo
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(
        f"To use it: pwsk property set --apihost http://{shown}:{port} --auth {GUEST_AUTH}",
        err=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        run(host=host, port=port, data_dir=data_dir, **extra)
