"""``pwsk admin``: operators' views of a deployment (invoker health)."""

from __future__ import annotations

from typing import Any

import click

from .common import echo_table, failing, global_options, json_option, print_json, state


@click.group("admin")
def admin() -> None:
    """Look at the deployment as an operator.

    \b
      pwsk admin invokers
    """


@admin.command("invokers")
@json_option
@global_options()
def invokers(as_json: bool = False, **_: Any) -> None:
    """Show each invoker's health: up, unhealthy, unresponsive or down.

    \b
      pwsk admin invokers
      pwsk admin invokers --json
    """
    with failing("get the invokers"):
        states = state().client().invokers()
    if as_json:
        print_json(states)
        return
    width = max((len(name) for name in states), default=7)
    echo_table([f"{'invoker':<{width}}  status"]
               + [f"{name:<{width}}  {status}" for name, status in sorted(states.items())])
