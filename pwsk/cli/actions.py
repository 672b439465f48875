"""``pwsk action``: create, update, invoke, get, delete and list actions."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import params as P
from .common import (
    EXIT_TIMED_OUT,
    CliError,
    bold,
    check_args,
    display,
    echo_table,
    exit_code_for_status,
    failing,
    find_field,
    global_options,
    json_option,
    namespace_label,
    ok,
    param_options,
    print_json,
    qualify,
    secret_param_option,
    state,
)
from .output import annotation, entity_summary, entity_table

if TYPE_CHECKING:
    from pwsk.client import Invocation
    from pwsk.names import FQN

Json = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
ACTION_FIELDS = (
    "namespace",
    "name",
    "version",
    "exec",
    "annotations",
    "parameters",
    "limits",
    "publish",
    "updated",
)
BINARY_SAVE_EXT = {"java": ".jar", "ballerina": ".balx"}
SOURCE_SAVE_EXT = {
    "nodejs": ".js",
    "python": ".py",
    "ruby": ".rb",
    "rust": ".rs",
    "go": ".go",
    "swift": ".swift",
    "php": ".php",
}


@click.group("action")
def action() -> None:
    """Work with actions.

    \b
      pwsk action create hello hello.py
      pwsk action invoke hello -p name Ada --result
      pwsk action list
    """


def _put_options(update: bool) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        if update:
            fn = click.option(
                "--del-annotation",
                "del_annotations",
                multiple=True,
                metavar="KEY",
                help="Annotation to delete (repeatable).",
            )(fn)
        fn = click.option(
            "--web-secure",
            "web_secure",
            metavar="SECRET",
            help="Secure the web action: true, false or a SECRET.",
        )(fn)
        fn = click.option(
            "--web",
            metavar="yes|true|raw|no|false",
            help="Treat ACTION as a web action, a raw HTTP web action, or not.",
        )(fn)
        fn = param_options(fn)
        fn = secret_param_option(fn)
        fn = click.option(
            "-c",
            "--concurrency",
            type=int,
            metavar="LIMIT",
            help="Intra-container concurrent activation LIMIT (default 1).",
        )(fn)
        fn = click.option(
            "-l",
            "--logsize",
            type=int,
            metavar="LIMIT",
            help="Maximum log size LIMIT in MB (default 10).",
        )(fn)
        fn = click.option(
            "-m",
            "--memory",
            type=int,
            metavar="LIMIT",
            help="Maximum memory LIMIT in MB (default 256).",
        )(fn)
        fn = click.option(
            "-t",
            "--timeout",
            type=int,
            metavar="LIMIT",
            help="Timeout LIMIT in milliseconds (default 60000).",
        )(fn)
        fn = click.option(
            "--copy", is_flag=True, help="Treat ACTION as the name of an existing action to copy."
        )(fn)
        fn = click.option(
            "--sequence",
            is_flag=True,
            help="Treat ACTION as a comma separated sequence of actions.",
        )(fn)
        fn = click.option(
            "--docker", metavar="IMAGE", help="Use the Docker IMAGE to run the action (blackbox)."
        )(fn)
        fn = click.option(
            "--native", is_flag=True, help="Treat ACTION as a native action (zip with an 'exec')."
        )(fn)
        fn = click.option("--main", metavar="NAME", help="The action entry point.")(fn)
        fn = click.option(
            "--kind", metavar="KIND", help="The KIND of the action runtime (e.g. python:default)."
        )(fn)
        return global_options()(fn)

    return decorate


def _put_action(args: tuple[str, ...], opts: dict[str, Any], *, update: bool) -> None:
    required = (
        "An action name is required. A code artifact is optional."
        if update
        else "An action name and code artifact are required."
    )
    check_args(args, 1, 2, required)
    fqn = qualify(args[0])
    client = state().client()
    body: Json = {}
    limits = {
        key: opts[opt]
        for key, opt in (
            ("timeout", "timeout"),
            ("memory", "memory"),
            ("logs", "logsize"),
            ("concurrency", "concurrency"),
        )
        if opts[opt] is not None
    }
    if limits:
        body["limits"] = limits
    parameters = P.key_values(opts["params"], opts["param_file"])
    annotations = P.key_values(opts["annotations"], opts["annotation_file"], "annotation")
    secret: set[str] = set()

    if opts["copy"]:
        if len(args) != 2:
            raise CliError(f"Invalid argument(s). {required}", usage=True)
        source = qualify(args[1])
        with failing(f"Unable to get action '{source.relative}'", usage=True):
            original = client.get_action(str(source))
        body["exec"] = original.get("exec")
        parameters = {**_kv_dict(original.get("parameters")), **parameters}
        # The copy's secrets stay secret: the server asks for their values (it shows the
        # originals only as the marker).
        secret = {p["key"] for p in original.get("parameters") or []
                  if isinstance(p, dict) and p.get("secret") is True and "key" in p}
        annotations = {**_kv_dict(original.get("annotations")), **annotations}
    elif opts["sequence"]:
        if len(args) != 2:
            raise CliError(
                "Invalid argument(s). An action name and code artifact are required.", usage=True
            )
        components = [str(qualify(c.strip())) for c in args[1].split(",")]
        body["exec"] = P.sequence_exec(components)
    elif len(args) == 2 or opts["docker"]:
        body["exec"] = P.build_exec(
            args[1] if len(args) == 2 else None,
            kind=opts["kind"],
            main=opts["main"],
            docker=opts["docker"],
            native=opts["native"],
        )
    elif not update:
        raise CliError(f"Invalid argument(s). {required}", usage=True)

    delete = list(opts.get("del_annotations") or ())
    _apply_web(client, fqn, opts, annotations, delete, update=update)
    parameters, given = P.with_secrets(parameters, opts)
    if parameters or opts["params"] or opts["param_file"] or given:
        body["parameters"] = P.to_kv(parameters, secret | given)
    if annotations or opts["annotations"] or opts["annotation_file"]:
        body["annotations"] = P.to_kv(annotations)
    if delete:
        body["delAnnotations"] = delete

    with failing(f"Unable to create action '{fqn.relative}'", usage=True):
        client.put_action(str(fqn), body, overwrite=update)
    ok(f"{'updated' if update else 'created'} action {bold(fqn.relative)}")


def _kv_dict(items: Any) -> Json:
    return {i["key"]: i.get("value") for i in items or [] if isinstance(i, dict) and "key" in i}


def _apply_web(
    client: Any,
    fqn: FQN,
    opts: dict[str, Any],
    annotations: Json,
    delete: list[str],
    *,
    update: bool,
) -> None:
    """Add ``--web`` / ``--web-secure`` annotations (the server merges them over old ones)."""
    web, secure = opts["web"], opts["web_secure"]
    if web is not None:
        annotations.update(P.web_annotations(web))
    if secure is None:
        return
    existing: Json | None = None
    if update:
        from pwsk.client import ClientError

        try:
            existing = client.get_action(str(fqn), code=False)
        except ClientError as exc:
            if exc.status != 404:
                raise CliError(f"Unable to get action '{fqn.relative}': {exc}") from None
    disabling = web is not None and web.lower() in ("no", "false")
    is_web = annotations.get("web-export") is True or (
        existing is not None and annotation(existing, "web-export") is True and not disabling
    )
    if not is_web:
        raise CliError(
            "The --web-secure option is only valid when the --web option is enabled.",
            2,
            usage=True,
        )
    old_secret = annotation(existing, "require-whisk-auth") if existing else None
    secret = P.web_secret(secure, old_secret)
    if secret is False:
        annotations.pop("require-whisk-auth", None)
        if old_secret is not None:
            delete.append("require-whisk-auth")
    else:
        annotations["require-whisk-auth"] = secret


@action.command("create")
@click.argument("args", nargs=-1, metavar="ACTION_NAME ACTION")
@_put_options(update=False)
def create(args: tuple[str, ...], **opts: Any) -> None:
    """Create a new action.

    \b
      pwsk action create hello hello.py
      pwsk action create app app.zip --kind python:default --main handler
      pwsk action create both --sequence first,second
      pwsk action create page page.js --web true
    """
    _put_action(args, opts, update=False)


@action.command("update")
@click.argument("args", nargs=-1, metavar="ACTION_NAME [ACTION]")
@_put_options(update=True)
def update(args: tuple[str, ...], **opts: Any) -> None:
    """Update an existing action, or create it if it does not exist.

    \b
      pwsk action update hello hello.py
      pwsk action update hello -p greeting Hi -m 512
      pwsk action update hello --del-annotation description
    """
    _put_action(args, opts, update=True)


@action.command("invoke")
@click.argument("args", nargs=-1, metavar="ACTION_NAME")
@param_options
@click.option("-b", "--blocking", is_flag=True, help="Wait for the result (up to 60 s).")
@click.option(
    "-r",
    "--result",
    is_flag=True,
    help="Blocking invoke; show only the activation result (unless there is a failure).",
)
@json_option
@global_options()
def invoke(
    args: tuple[str, ...],
    params: P.Pairs,
    param_file: str | None,
    blocking: bool,
    result: bool,
    as_json: bool,
    **_: Any,
) -> None:
    """Invoke an action.

    \b
      pwsk action invoke hello                 # prints the activation id
      pwsk action invoke hello -b -p name Ada  # waits, prints the activation record
      pwsk action invoke hello -r              # waits, prints only the result
      pwsk action invoke hello --json          # {"activationId": "..."}
    """
    check_args(args, 1, 1, "An action name is required.")
    fqn = qualify(args[0])
    payload = P.key_values(params, param_file)
    blocking = blocking or result
    with failing(f"Unable to invoke action '{fqn.relative}'", usage=True):
        run = state().client().invoke(str(fqn), payload, blocking=blocking, result=result)
    if as_json:
        # The server's answer on stdout whatever the outcome; the exit code tells which.
        print_json(run.body if run.body is not None else {"activationId": run.activation_id})
        if run.pending and blocking:
            click.get_current_context().exit(EXIT_TIMED_OUT)
        if not run.succeeded and not run.pending:
            click.get_current_context().exit(exit_code_for_status(run.status))
        return
    report_invocation(fqn, run, blocking=blocking, header=not result)


def report_invocation(fqn: FQN, run: Invocation, *, blocking: bool, header: bool) -> None:
    """Print an invoke outcome the way wsk does, exiting non-zero unless it succeeded."""
    if run.pending and blocking:
        ok(
            f"invoked {display(fqn)}, but the request has not yet finished, with id "
            f"{bold(run.activation_id)}",
            err=True,
        )
        click.get_current_context().exit(EXIT_TIMED_OUT)
    failed = not run.succeeded and not run.pending
    if header:
        ok(f"invoked {bold(display(fqn))} with id {bold(run.activation_id)}", err=failed)
    if blocking:
        # wsk decodes these bodies into maps, so its output has sorted keys.
        print_json(run.body, sort_keys=True, err=failed)
    if failed:
        click.get_current_context().exit(exit_code_for_status(run.status))


@action.command("get")
@click.argument("args", nargs=-1, metavar="ACTION_NAME [FIELD_FILTER]")
@click.option(
    "-s",
    "--summary",
    is_flag=True,
    help='Summarize action details; bound parameters get "*", final ones "**".',
)
@click.option("-r", "--url", is_flag=True, help="Get the action's URL.")
@click.option("--save", is_flag=True, help="Save the action code to a file named after it.")
@click.option("--save-as", "save_as", metavar="FILE", help="Save the action code to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON.")
@global_options()
def get(
    args: tuple[str, ...],
    summary: bool,
    url: bool,
    save: bool,
    save_as: str | None,
    as_json: bool,
    **_: Any,
) -> None:
    """Get an action.

    \b
      pwsk action get hello
      pwsk action get hello exec        # one field
      pwsk action get hello --url
      pwsk action get hello --save      # writes hello.py
    """
    check_args(args, 1, 2, "An action name is required.")
    fqn = qualify(args[0])
    field = args[1] if len(args) > 1 and not (url or summary) else None
    saving = save or save_as is not None
    with failing(f"Unable to get action '{fqn.relative}'", usage=True):
        entity = state().client().get_action(str(fqn), code=saving)
    if url:
        if as_json:
            print_json({"url": action_url(entity, fqn)})
            return
        ok(f"got action {bold(fqn.name)}")
        click.echo(action_url(entity, fqn))
    elif summary:
        namespace = entity.get("namespace", fqn.namespace)
        name = f"/{namespace}/{entity.get('name', fqn.name)}"
        click.echo("\n".join(entity_summary("action", name, entity)))
    elif saving:
        _save_code(entity, save_as)
    elif field is not None:
        value = find_field(entity, field, ACTION_FIELDS)
        if not as_json:
            ok(f"got action {bold(fqn.relative)}, displaying field {bold(field)}")
        print_json(value)
    else:
        if not as_json:
            ok(f"got action {bold(fqn.relative)}")
        print_json(entity)


def action_url(entity: Json, fqn: FQN) -> str:
    """The web URL of a web action, else its REST URL (as ``wsk action get --url``)."""
    from urllib.parse import quote

    from pwsk.client import base_url

    props = state().props
    root = base_url(props.apihost, props.apiversion)
    namespace = quote(str(entity.get("namespace", fqn.namespace)).split("/")[0], safe="")
    name = quote(fqn.name, safe="")
    if annotation(entity, "web-export") is True:
        package = quote(fqn.package or "default", safe="")
        return f"{root}/web/{namespace}/{package}/{name}"
    if fqn.package:
        return f"{root}/namespaces/{namespace}/actions/{quote(fqn.package, safe='')}/{name}"
    return f"{root}/namespaces/{namespace}/actions/{name}"


def _save_code(entity: Json, filename: str | None) -> None:
    exec_ = entity.get("exec") or {}
    family = str(exec_.get("kind", "")).split(":")[0]
    code = exec_.get("code")
    binary = bool(exec_.get("binary"))
    if family == "blackbox" and code is None:
        raise CliError("Cannot save Docker images", 2, usage=True)
    if family == "sequence":
        raise CliError("Cannot save action sequences", 2, usage=True)
    name = str(entity.get("name", "action"))
    if binary:
        data = base64.b64decode(code or "")
        target = Path(filename or name + BINARY_SAVE_EXT.get(family, ".zip"))
    else:
        data = str(code or "").encode()
        target = Path(filename or name + SOURCE_SAVE_EXT.get(family, ""))
    if target.exists():
        raise CliError(f"The file '{target}' already exists", 2, usage=True)
    target.write_bytes(data)
    ok(f"saved action code to {bold(target.resolve())}")


@action.command("delete")
@click.argument("args", nargs=-1, metavar="ACTION_NAME")
@global_options()
def delete(args: tuple[str, ...], **_: Any) -> None:
    """Delete an action.

    \b
      pwsk action delete hello
    """
    check_args(args, 1, 1, "An action name is required.")
    fqn = qualify(args[0])
    with failing(f"Unable to delete action '{fqn.relative}'", usage=True):
        state().client().delete_action(str(fqn))
    ok(f"deleted action {bold(fqn.relative)}")


@action.command("list")
@click.argument("args", nargs=-1, metavar="[NAMESPACE | PACKAGE_NAME]")
@click.option(
    "-s",
    "--skip",
    type=int,
    default=0,
    metavar="SKIP",
    help="Exclude the first SKIP number of actions from the result.",
)
@click.option(
    "-l",
    "--limit",
    type=int,
    default=30,
    metavar="LIMIT",
    help="Only return LIMIT number of actions (default 30, at most 200).",
)
@click.option(
    "-n",
    "--name-sort",
    "name_sort",
    is_flag=True,
    help="Sort the returned block alphabetically by name.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON list.")
@global_options()
def list_(
    args: tuple[str, ...], skip: int, limit: int, name_sort: bool, as_json: bool, **_: Any
) -> None:
    """List the actions in a namespace, or in a package.

    \b
      pwsk action list
      pwsk action list mypackage
      pwsk action list /guest -l 100 -n
    """
    check_args(args, 0, 1, "An optional namespace is the only valid argument.")
    namespace: str | None = None
    package: str | None = None
    if args:
        parts = args[0].strip("/").split("/")
        if args[0].startswith("/") and len(parts) == 1:
            namespace = parts[0]
        else:
            fqn = qualify(args[0])
            namespace, package = fqn.namespace, fqn.relative
    client = state().client()
    shown = namespace_label(namespace or client.namespace)
    with failing(f"Unable to obtain the list of actions for namespace '{shown}'", usage=True):
        actions = client.list_actions(package, namespace=namespace, limit=limit, skip=skip)
    if as_json:
        print_json(actions)
    else:
        echo_table(entity_table("actions", actions, name_sort=name_sort))
