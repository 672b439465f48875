"""``pwsk activation``: list, get, logs, result and poll activation records."""

from __future__ import annotations

import time
from typing import Any

import click

from .common import (
    CliError,
    bold,
    check_args,
    echo_table,
    failing,
    find_field,
    global_options,
    json_option,
    namespace_label,
    ok,
    print_json,
    qualify,
    state,
)
from .output import activation_summary_header, activation_table, strip_timestamp

ACTIVATION_FIELDS = (
    "namespace",
    "name",
    "version",
    "subject",
    "activationid",
    "cause",
    "start",
    "end",
    "duration",
    "statuscode",
    "response",
    "logs",
    "annotations",
    "publish",
)
POLL_INTERVAL = 2.0


@click.group("activation")
def activation() -> None:
    """Work with activations.

    \b
      pwsk activation list
      pwsk activation get --last
      pwsk activation logs <id> --strip
      pwsk activation result --last
    """


def _last_flag(args: tuple[str, ...], last: bool, what: str) -> tuple[str, ...]:
    """With ``--last``, put the newest activation id first (any FIELD follows it)."""
    if not last:
        return args
    with failing(what):
        newest = state().client().list_activations(limit=1, skip=0)
    if not newest:
        raise CliError(f"{what}: Activation list does not contain any activations.", usage=True)
    return (str(newest[0].get("activationId")), *args)


@activation.command("list")
@click.argument("args", nargs=-1, metavar="[NAMESPACE | ACTION_NAME]")
@click.option(
    "-s",
    "--skip",
    type=int,
    default=0,
    metavar="SKIP",
    help="Exclude the first SKIP number of activations from the result.",
)
@click.option(
    "-l",
    "--limit",
    type=int,
    default=30,
    metavar="LIMIT",
    help="Only return LIMIT number of activations (at most 200).",
)
@click.option("-f", "--full", is_flag=True, help="Include full activation description.")
@click.option(
    "--since",
    type=int,
    metavar="SINCE",
    help="Return activations later than SINCE (epoch milliseconds).",
)
@click.option(
    "--upto",
    type=int,
    metavar="UPTO",
    help="Return activations earlier than UPTO (epoch milliseconds).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON list.")
@global_options()
def list_(
    args: tuple[str, ...],
    skip: int,
    limit: int,
    full: bool,
    since: int | None,
    upto: int | None,
    as_json: bool,
    **_: Any,
) -> None:
    """List activations, newest first; optionally only those of one action.

    \b
      pwsk activation list
      pwsk activation list hello -l 5
      pwsk activation list --full --since 1714550400000
    """
    check_args(args, 0, 1, "An optional namespace is the only valid argument.")
    name: str | None = None
    if args:
        parts = args[0].strip("/").split("/")
        if not (args[0].startswith("/") and len(parts) == 1):
            name = qualify(args[0]).relative
    client = state().client()
    label = namespace_label(client.namespace)
    with failing(f"Unable to obtain the list of activations for namespace '{label}'"):
        records = client.list_activations(
            name, limit=limit, skip=skip, since=since, upto=upto, docs=full
        )
    if as_json:
        print_json(records)
    elif full:
        click.echo(bold("activations"))
        for record in records:
            print_json(record)
    else:
        echo_table(activation_table(records))


@activation.command("get")
@click.argument("args", nargs=-1, metavar="(ACTIVATION_ID | --last) [FIELD_FILTER]")
@click.option("-s", "--summary", is_flag=True, help="Summarize activation details.")
@click.option("-l", "--last", is_flag=True, help="Use the most recent activation.")
@click.option(
    "-g",
    "--logs",
    is_flag=True,
    help="Emit only the logs, stripped of time stamps and stream identifier.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON.")
@global_options()
def get(
    args: tuple[str, ...], summary: bool, last: bool, logs: bool, as_json: bool, **_: Any
) -> None:
    """Get an activation record.

    \b
      pwsk activation get 44794bd6aab74415b4e42a308d880e5b
      pwsk activation get --last response
    """
    args = _last_flag(args, last, "Unable to get activation")
    check_args(args, 1, 2, "An activation ID is required.")
    activation_id = args[0]
    field = args[1] if len(args) > 1 else None
    if field is not None:
        find_field({}, field, ACTIVATION_FIELDS)  # reject bad filters before the request
    with failing(f"Unable to get activation '{activation_id}'"):
        record = state().client().get_activation(activation_id)
    if summary:
        click.echo(activation_summary_header(record))
        print_json((record.get("response") or {}).get("result"))
    elif logs:
        for line in record.get("logs") or []:
            click.echo(strip_timestamp(str(line)))
    elif field is not None:
        if not as_json:
            ok(f"got activation {bold(activation_id)}, displaying field {bold(field)}")
        print_json(find_field(record, field, ACTIVATION_FIELDS))
    else:
        if not as_json:
            ok(f"got activation {bold(activation_id)}")
        print_json(record)


@activation.command("logs")
@click.argument("args", nargs=-1, metavar="(ACTIVATION_ID | --last)")
@click.option("-l", "--last", is_flag=True, help="Use the most recent activation.")
@click.option("-r", "--strip", is_flag=True, help="Strip timestamp and stream information.")
@json_option
@global_options()
def logs(args: tuple[str, ...], last: bool, strip: bool, as_json: bool, **_: Any) -> None:
    """Get the logs of an activation.

    \b
      pwsk activation logs 44794bd6aab74415b4e42a308d880e5b
      pwsk activation logs --last --strip
    """
    args = _last_flag(args, last, "Unable to get logs for activation")
    check_args(args, 1, 1, "An activation ID is required.")
    with failing(f"Unable to get logs for activation '{args[0]}'"):
        lines = state().client().activation_logs(args[0])
    if strip:
        lines = [strip_timestamp(line) for line in lines]
    if as_json:
        print_json(lines)
        return
    for line in lines:
        click.echo(line)


@activation.command("result")
@click.argument("args", nargs=-1, metavar="(ACTIVATION_ID | --last)")
@click.option("-l", "--last", is_flag=True, help="Use the most recent activation.")
@global_options()
def result(args: tuple[str, ...], last: bool, **_: Any) -> None:
    """Get the result of an activation.

    \b
      pwsk activation result --last
    """
    args = _last_flag(args, last, "Unable to get result for activation")
    check_args(args, 1, 1, "An activation ID is required.")
    with failing(f"Unable to get result for activation '{args[0]}'"):
        response = state().client().activation_result(args[0])
    print_json(response.get("result"))


@activation.command("poll")
@click.argument("args", nargs=-1, metavar="[NAMESPACE | ACTION_NAME]")
@click.option(
    "-e",
    "--exit",
    "exit_after",
    type=int,
    default=0,
    metavar="SECONDS",
    help="Stop polling after SECONDS seconds.",
)
@click.option(
    "--since-seconds",
    type=int,
    default=0,
    metavar="SECONDS",
    help="Start polling for activations SECONDS seconds ago.",
)
@click.option(
    "--since-minutes",
    type=int,
    default=0,
    metavar="MINUTES",
    help="Start polling for activations MINUTES minutes ago.",
)
@click.option(
    "--since-hours",
    type=int,
    default=0,
    metavar="HOURS",
    help="Start polling for activations HOURS hours ago.",
)
@click.option(
    "--since-days",
    type=int,
    default=0,
    metavar="DAYS",
    help="Start polling for activations DAYS days ago.",
)
@global_options()
def poll(
    args: tuple[str, ...],
    exit_after: int,
    since_seconds: int,
    since_minutes: int,
    since_hours: int,
    since_days: int,
    **_: Any,
) -> None:
    """Poll continuously for the logs of new activations.

    \b
      pwsk activation poll hello --exit 60
    """
    check_args(args, 0, 1, "An optional namespace is the only valid argument.")
    name = args[0] if args and not args[0].startswith("/") else None
    client = state().client()
    click.echo("Enter Ctrl-c to exit.")
    from pwsk.client import ClientError

    back = ((since_days * 24 + since_hours) * 60 + since_minutes) * 60 + since_seconds
    since = int(time.time() * 1000) - back * 1000
    if not back:
        try:
            newest = client.list_activations(limit=1, docs=True)
            since = int(newest[0]["start"]) + 1 if newest else since
        except (ClientError, KeyError, ValueError):
            pass
    click.echo("Polling for activation logs")
    seen: set[str] = set()
    started = time.monotonic()
    while not exit_after or time.monotonic() - started <= exit_after:
        try:
            records = client.list_activations(name, since=since, docs=True, limit=0)
        except ClientError:
            records = []
        for record in records:
            activation_id = str(record.get("activationId"))
            if activation_id not in seen:
                seen.add(activation_id)
                click.echo(f"\nActivation: '{record.get('name')}' ({activation_id})")
                print_json(record.get("logs") or [])
            since = max(since, int(record.get("start") or 0) + 1)
        time.sleep(POLL_INTERVAL)
