"""``pwsk rule``: connect triggers to actions, and switch those links on and off."""

from __future__ import annotations

from typing import Any

import click

from .common import (
    bold,
    check_args,
    failing,
    find_field,
    global_options,
    json_option,
    ok,
    print_json,
    qualify,
    state,
)
from .listing import fetch_list, list_options, show_list
from .output import full_name

RULE_FIELDS = (
    "namespace",
    "name",
    "version",
    "status",
    "trigger",
    "action",
    "publish",
    "annotations",
    "updated",
)


@click.group("rule")
def rule() -> None:
    """Work with rules.

    \b
      pwsk rule create on-tick tick hello
      pwsk rule disable on-tick
      pwsk rule status on-tick
    """


def _put_rule(args: tuple[str, ...], *, update: bool) -> None:
    check_args(args, 3, 3, "A rule, trigger and action name are required.")
    fqn = qualify(args[0])
    body = {"trigger": str(qualify(args[1])), "action": str(qualify(args[2]))}
    verb = "update" if update else "create"
    with failing(f"Unable to {verb} rule '{fqn.relative}'"):
        state().client().put_rule(str(fqn), body, overwrite=update)
    ok(f"{verb}d rule {bold(fqn.relative)}")


@rule.command("create")
@click.argument("args", nargs=-1, metavar="RULE_NAME TRIGGER_NAME ACTION_NAME")
@global_options()
def create(args: tuple[str, ...], **_: Any) -> None:
    """Create a new rule (it starts active).

    \b
      pwsk rule create on-tick tick hello
    """
    _put_rule(args, update=False)


@rule.command("update")
@click.argument("args", nargs=-1, metavar="RULE_NAME TRIGGER_NAME ACTION_NAME")
@global_options()
def update(args: tuple[str, ...], **_: Any) -> None:
    """Update an existing rule, or create it if it does not exist.

    \b
      pwsk rule update on-tick tick goodbye
    """
    _put_rule(args, update=True)


def _set_state(args: tuple[str, ...], status: str, verb: str) -> None:
    check_args(args, 1, 1, "A rule name is required.")
    fqn = qualify(args[0])
    client = state().client()
    with failing(f"Unable to {verb} rule '{fqn.relative}'"):
        if status == "active":
            client.enable_rule(str(fqn))
        else:
            client.disable_rule(str(fqn))
    ok(f"{verb}d rule {bold(fqn.relative)}")


@rule.command("enable")
@click.argument("args", nargs=-1, metavar="RULE_NAME")
@global_options()
def enable(args: tuple[str, ...], **_: Any) -> None:
    """Enable a rule: its trigger's events invoke its action again.

    \b
      pwsk rule enable on-tick
    """
    _set_state(args, "active", "enable")


@rule.command("disable")
@click.argument("args", nargs=-1, metavar="RULE_NAME")
@global_options()
def disable(args: tuple[str, ...], **_: Any) -> None:
    """Disable a rule: its trigger's events no longer invoke its action.

    \b
      pwsk rule disable on-tick
    """
    _set_state(args, "inactive", "disable")


@rule.command("status")
@click.argument("args", nargs=-1, metavar="RULE_NAME")
@json_option
@global_options()
def status(args: tuple[str, ...], as_json: bool, **_: Any) -> None:
    """Get a rule's status: active or inactive.

    \b
      pwsk rule status on-tick          # ok: rule on-tick is active
      pwsk rule status on-tick --json   # {"name": "on-tick", "status": "active"}
    """
    check_args(args, 1, 1, "A rule name is required.")
    fqn = qualify(args[0])
    with failing(f"Unable to get status of rule '{fqn.relative}'", usage=True):
        entity = state().client().get_rule(str(fqn))
    if as_json:
        print_json({"name": fqn.relative, "status": entity.get("status", "")})
        return
    ok(f"rule {bold(fqn.relative)} is {bold(entity.get('status', ''))}")


@rule.command("get")
@click.argument("args", nargs=-1, metavar="RULE_NAME [FIELD_FILTER]")
@click.option("-s", "--summary", is_flag=True, help="Summarize rule details.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON.")
@global_options()
def get(args: tuple[str, ...], summary: bool, as_json: bool, **_: Any) -> None:
    """Get a rule.

    \b
      pwsk rule get on-tick
      pwsk rule get on-tick action
    """
    check_args(args, 1, 2, "A rule name is required.")
    fqn = qualify(args[0])
    field = args[1] if len(args) > 1 else None
    if field is not None:
        find_field({}, field, RULE_FIELDS)
    with failing(f"Unable to get rule '{fqn.relative}'"):
        entity = state().client().get_rule(str(fqn))
    if summary:
        click.echo(f"{bold('rule')} {full_name(entity)}")
        click.echo(f"   ({bold('status')}: {entity.get('status', '')})")
    elif field is not None:
        if not as_json:
            ok(f"got rule {bold(fqn.relative)}, displaying field {bold(field)}")
        print_json(find_field(entity, field, RULE_FIELDS))
    else:
        if not as_json:
            ok(f"got rule {bold(fqn.relative)}")
        print_json(entity)


@rule.command("delete")
@click.argument("args", nargs=-1, metavar="RULE_NAME")
@click.option("--disable", is_flag=True, help="Disable the rule before deleting it.")
@global_options()
def delete(args: tuple[str, ...], disable: bool, **_: Any) -> None:
    """Delete a rule.

    \b
      pwsk rule delete on-tick
    """
    check_args(args, 1, 1, "A rule name is required.")
    fqn = qualify(args[0])
    client = state().client()
    if disable:
        with failing(f"Unable to disable rule '{fqn.relative}'"):
            client.disable_rule(str(fqn))
    with failing(f"Unable to delete rule '{fqn.relative}'"):
        client.delete_rule(str(fqn))
    ok(f"deleted rule {bold(fqn.relative)}")


@rule.command("list")
@list_options("rules")
def list_(
    args: tuple[str, ...], skip: int, limit: int, name_sort: bool, as_json: bool, **_: Any
) -> None:
    """List rules with their status.

    \b
      pwsk rule list
    """
    rules = fetch_list(args, "rules", skip, limit,
                       lambda **query: state().client().list_rules(**query))
    client = state().client()
    for entity in rules:
        if "status" not in entity:  # a list summary may lack it; the rule itself has it
            name = f"/{entity.get('namespace')}/{entity.get('name')}"
            with failing(f"Unable to get status of rule '{entity.get('name')}'"):
                entity["status"] = client.get_rule(name).get("status", "")
    show_list("rules", rules, name_sort, as_json)
