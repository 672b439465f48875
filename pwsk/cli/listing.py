"""What every ``<entity> list [NAMESPACE]`` command shares: its flags, fetch and output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .common import (
    check_args,
    echo_table,
    failing,
    global_options,
    namespace_label,
    namespace_only,
    print_json,
    state,
)
from .output import entity_table

F = TypeVar("F", bound=Callable[..., Any])
Json = dict[str, Any]


def list_options(collection: str) -> Callable[[F], F]:
    """``[NAMESPACE] -s/--skip -l/--limit -n/--name-sort --json`` and the global flags."""

    def decorate(fn: F) -> F:
        for option in reversed((
            click.argument("args", nargs=-1, metavar="[NAMESPACE]"),
            click.option("-s", "--skip", type=int, default=0, metavar="SKIP",
                         help=f"Exclude the first SKIP number of {collection} from the result."),
            click.option("-l", "--limit", type=int, default=30, metavar="LIMIT",
                         help=f"Only return LIMIT number of {collection} (default 30)."),
            click.option("-n", "--name-sort", "name_sort", is_flag=True,
                         help="Sort the returned block alphabetically by name."),
            click.option("--json", "as_json", is_flag=True, help="Print the JSON list."),
            global_options(),
        )):
            fn = option(fn)
        return fn

    return decorate


def fetch_list(args: tuple[str, ...], collection: str, skip: int, limit: int,
               fetch: Callable[..., list[Json]]) -> list[Json]:
    """Call ``fetch(namespace=, limit=, skip=)`` with wsk's argument check and error text."""
    check_args(args, 0, 1, "An optional namespace is the only valid argument.")
    namespace = namespace_only(args[0] if args else None)
    shown = namespace_label(namespace or state().client().namespace)
    with failing(f"Unable to obtain the list of {collection} for namespace '{shown}'"):
        return fetch(namespace=namespace, limit=limit, skip=skip)


def show_list(collection: str, items: list[Json], name_sort: bool, as_json: bool) -> None:
    if as_json:
        print_json(items)
    else:
        echo_table(entity_table(collection, items, name_sort=name_sort))
