"""``pwsk trigger``: create, update, fire, get, delete and list triggers (with feeds)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import params as P
from .actions import report_invocation
from .common import (
    EXIT_NOT_ALLOWED,
    CliError,
    bold,
    check_args,
    display,
    failing,
    find_field,
    global_options,
    json_option,
    ok,
    param_options,
    print_json,
    qualify,
    secret_param_option,
    state,
)
from .listing import fetch_list, list_options, show_list
from .output import annotation, entity_summary, full_name

if TYPE_CHECKING:
    from pwsk.names import FQN

Json = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
TRIGGER_FIELDS = (
    "namespace",
    "name",
    "version",
    "annotations",
    "parameters",
    "limits",
    "publish",
    "rules",
    "updated",
)


@click.group("trigger")
def trigger() -> None:
    """Work with triggers.

    \b
      pwsk trigger create tick
      pwsk rule create on-tick tick hello
      pwsk trigger fire tick -p source cli
    """


def _feed_options(fn: F) -> F:
    fn = click.option(
        "-T",
        "--trigger-param",
        "trigger_params",
        nargs=2,
        multiple=True,
        metavar="KEY VALUE",
        help="Trigger parameter values in KEY VALUE format.",
    )(fn)
    fn = click.option(
        "-F",
        "--feed-param",
        "feed_params",
        nargs=2,
        multiple=True,
        metavar="KEY VALUE",
        help="Feed parameter values in KEY VALUE format.",
    )(fn)
    return fn


def _feed_event(feed: str, event: str, trigger_fqn: FQN, params: Json, *, header: bool) -> None:
    """Invoke a feed action (blocking) with a lifecycle event, printing it as wsk does."""
    from pwsk.client import ClientError

    feed_fqn = qualify(feed)
    payload = {
        **params,
        "lifecycleEvent": event,
        "triggerName": display(trigger_fqn),
        "authKey": state().props.auth,
    }
    try:
        run = state().client().invoke(str(feed_fqn), payload, blocking=True)
    except ClientError as exc:
        raise CliError(f"Unable to configure feed '{feed_fqn}': {exc}") from None
    if run.pending:
        reason = "Request accepted, but processing not completed yet."
    elif not run.succeeded:
        response = run.body.get("response") if isinstance(run.body, dict) else None
        result = response.get("result") if isinstance(response, dict) else None
        error = result.get("error") if isinstance(result, dict) else result
        text = error if isinstance(error, str) else json.dumps(error)
        reason = f"The following application error was received: {text}"
    else:
        report_invocation(feed_fqn, run, blocking=True, header=header)
        return
    raise CliError(f"Unable to configure feed '{feed_fqn}': {reason}")


def _put_trigger(args: tuple[str, ...], opts: dict[str, Any], *, update: bool) -> None:
    check_args(args, 1, 1, "A trigger name is required.")
    fqn = qualify(args[0])
    params = P.key_values(opts["params"], opts["param_file"])
    annotations = P.key_values(opts["annotations"], opts["annotation_file"], "annotation")
    trigger_params = P.key_values(opts["trigger_params"], None)
    feed_params = P.key_values(opts["feed_params"], None)
    feed = opts.get("feed")
    if feed_params and not feed and not update:
        raise CliError(
            "Incorrect usage. Trigger without a feed cannot have feed parameters", EXIT_NOT_ALLOWED
        )
    body: Json = {}
    if feed:
        annotations["feed"] = str(qualify(feed))
        # With a feed, plain -p parameters go to the feed action, not onto the trigger.
        feed_params = {**params, **feed_params}
        params = {}
    params, secret = P.with_secrets({**params, **trigger_params}, opts)
    if params or opts["params"] or opts["param_file"] or opts["trigger_params"] or secret:
        body["parameters"] = P.to_kv(params, secret)
    if annotations or opts["annotations"] or opts["annotation_file"]:
        body["annotations"] = P.to_kv(annotations)
    verb = "update" if update else "create"
    client = state().client()
    with failing(f"Unable to {verb} trigger '{fqn.relative}'"):
        client.put_trigger(str(fqn), body, overwrite=update)
    if feed:
        try:
            _feed_event(feed, "CREATE", fqn, feed_params, header=True)
        except CliError as exc:
            from pwsk.client import ClientError

            # Do not leave a trigger behind whose feed was never set up.
            with contextlib.suppress(ClientError):
                client.delete_trigger(str(fqn))
            raise CliError(f"Unable to {verb} trigger '{fqn.relative}': {exc.message}") from None
    ok(f"{verb}d trigger {bold(fqn.relative)}")


@trigger.command("create")
@click.argument("args", nargs=-1, metavar="TRIGGER_NAME")
@click.option("-f", "--feed", metavar="ACTION_NAME", help="Trigger feed ACTION_NAME.")
@_feed_options
@param_options
@secret_param_option
@global_options()
def create(args: tuple[str, ...], **opts: Any) -> None:
    """Create a new trigger.

    \b
      pwsk trigger create tick -p source cron
      pwsk trigger create every-minute --feed /whisk.system/alarms/alarm -p cron "* * * * *"
    """
    _put_trigger(args, opts, update=False)


@trigger.command("update")
@click.argument("args", nargs=-1, metavar="TRIGGER_NAME")
@_feed_options
@param_options
@secret_param_option
@global_options()
def update(args: tuple[str, ...], **opts: Any) -> None:
    """Update an existing trigger, or create it if it does not exist.

    \b
      pwsk trigger update tick -p source manual
    """
    _put_trigger(args, opts, update=True)


@trigger.command("fire")
@click.argument("args", nargs=-1, metavar="TRIGGER_NAME [PAYLOAD]")
@click.option(
    "-p",
    "--param",
    "params",
    nargs=2,
    multiple=True,
    metavar="KEY VALUE",
    help="Parameter values in KEY VALUE format.",
)
@click.option(
    "-P",
    "--param-file",
    "param_file",
    metavar="FILE",
    help="FILE containing parameter values in JSON format.",
)
@json_option
@global_options()
def fire(
    args: tuple[str, ...], params: P.Pairs, param_file: str | None, as_json: bool, **_: Any
) -> None:
    """Fire a trigger event: every active rule invokes its action with the payload.

    PAYLOAD, a JSON object, is the event; -P and -p values are merged over it.

    \b
      pwsk trigger fire tick -p source cli
      pwsk trigger fire tick '{"source": "cli", "n": 1}'
    """
    check_args(args, 1, 2, "A trigger name is required.")
    fqn = qualify(args[0])
    payload: Json = {}
    if len(args) > 1:
        event = P.parse_value(args[1])
        if not isinstance(event, dict):
            raise CliError(
                f"Invalid argument(s): {args[1]}. The PAYLOAD must be a JSON object.", usage=True
            )
        payload.update(event)
    payload.update(P.key_values(params, param_file))
    with failing(f"Unable to fire trigger '{fqn.relative}'"):
        activation_id = state().client().fire_trigger(str(fqn), payload)
    if as_json:
        print_json({"activationId": activation_id})
        return
    # With no active rule the server answers 204 and records nothing; wsk then prints an
    # empty id, which is kept here so scripts parsing the line behave the same.
    ok(f"triggered {bold(display(fqn))} with id {bold(activation_id or '')}")


@trigger.command("get")
@click.argument("args", nargs=-1, metavar="TRIGGER_NAME [FIELD_FILTER]")
@click.option(
    "-s", "--summary", is_flag=True, help='Summarize trigger details; bound parameters get "*".'
)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON.")
@global_options()
def get(args: tuple[str, ...], summary: bool, as_json: bool, **_: Any) -> None:
    """Get a trigger.

    \b
      pwsk trigger get tick
      pwsk trigger get tick parameters
    """
    check_args(args, 1, 2, "A trigger name is required.")
    fqn = qualify(args[0])
    field = args[1] if len(args) > 1 else None
    if field is not None:
        find_field({}, field, TRIGGER_FIELDS)
    with failing(f"Unable to get trigger '{fqn.relative}'"):
        entity = state().client().get_trigger(str(fqn))
    if summary:
        click.echo("\n".join(entity_summary("trigger", full_name(entity), entity)))
    elif field is not None:
        if not as_json:
            ok(f"got trigger {bold(fqn.relative)}, displaying field {bold(field)}")
        print_json(find_field(entity, field, TRIGGER_FIELDS))
    else:
        if not as_json:
            ok(f"got trigger {bold(fqn.relative)}")
        print_json(entity)


@trigger.command("delete")
@click.argument("args", nargs=-1, metavar="TRIGGER_NAME")
@global_options()
def delete(args: tuple[str, ...], **_: Any) -> None:
    """Delete a trigger (telling its feed, if it has one).

    \b
      pwsk trigger delete tick
    """
    check_args(args, 1, 1, "A trigger name is required.")
    fqn = qualify(args[0])
    client = state().client()
    with failing(f"Unable to get trigger '{fqn.relative}'"):
        entity = client.get_trigger(str(fqn))
    feed = annotation(entity, "feed")
    if isinstance(feed, str) and feed:
        try:
            _feed_event(feed, "DELETE", fqn, {}, header=False)
        except CliError as exc:
            click.echo(f"warning: {exc.message}", err=True)
    with failing(f"Unable to delete trigger '{fqn.relative}'"):
        client.delete_trigger(str(fqn))
    ok(f"deleted trigger {bold(fqn.relative)}")


@trigger.command("list")
@list_options("triggers")
def list_(
    args: tuple[str, ...], skip: int, limit: int, name_sort: bool, as_json: bool, **_: Any
) -> None:
    """List triggers.

    \b
      pwsk trigger list
    """
    items = fetch_list(args, "triggers", skip, limit, state().client().list_triggers)
    show_list("triggers", items, name_sort, as_json)
