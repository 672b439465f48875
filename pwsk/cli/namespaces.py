"""``pwsk namespace list|get`` and the top-level ``pwsk list`` (everything in a namespace)."""

from __future__ import annotations

from typing import Any

import click

from .common import (
    bold,
    check_args,
    echo_table,
    failing,
    global_options,
    json_option,
    namespace_label,
    print_json,
    state,
)
from .output import entity_table


@click.group("namespace")
def namespace() -> None:
    """Work with namespaces.

    \b
      pwsk namespace list
      pwsk namespace get
    """


@namespace.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON list.")
@global_options()
def list_(as_json: bool, **_: Any) -> None:
    """List the namespaces your key can use.

    \b
      pwsk namespace list
    """
    with failing("Unable to obtain the list of available namespaces"):
        names = state().client().namespaces()
    if as_json:
        print_json(names)
    else:
        echo_table(["namespaces", *names])


@click.command("get")
@click.argument("args", nargs=-1, metavar="")
@click.option(
    "-n", "--name-sort", "name_sort", is_flag=True, help="Sort each list alphabetically by name."
)
@json_option
@global_options()
def get(args: tuple[str, ...], name_sort: bool, as_json: bool, **_: Any) -> None:
    """List the packages, actions, triggers and rules in your namespace.

    \b
      pwsk namespace get
      pwsk list -n
      pwsk list --json      # {"packages": [...], "actions": [...], ...}
    """
    if args != ("/_",):
        check_args(args, 0, 0, "No arguments are required.")
    client = state().client()
    label = namespace_label(client.namespace)
    what = f"Unable to obtain the list of entities for namespace '{label}'"
    with failing(what):
        packages = client.list_packages(limit=0)
        actions = client.list_actions(limit=0)
        triggers = client.list_triggers(limit=0)
        rules = client.list_rules(limit=0)
    for rule in rules:
        if "status" not in rule:
            with failing(f"Unable to get status of rule '{rule.get('name')}'"):
                fqn = f"/{rule.get('namespace')}/{rule.get('name')}"
                rule["status"] = client.get_rule(fqn).get("status", "")
    collections = {"packages": packages, "actions": actions, "triggers": triggers, "rules": rules}
    if as_json:
        print_json(collections)
        return
    click.echo(f"Entities in namespace: {bold(label)}")
    for collection, entities in collections.items():
        echo_table(entity_table(collection, entities, name_sort=name_sort))


namespace.add_command(get)
