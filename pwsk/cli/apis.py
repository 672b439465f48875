"""``pwsk api``: REST routes (base path + relative path + verb) that call web actions.

Routes are kept by OpenWhisk's API gateway and managed through the web actions
``/whisk.system/apimgmt/{createApi,getApi,deleteApi}.http``; pwsk's server answers those
paths itself and serves the routes under ``{apihost}/gw/{namespace}{basepath}{relpath}``.
Arguments, messages and exit codes follow ``wsk api``: a server refusal exits 1, and the
base path ``/`` is used when only API_PATH API_VERB ACTION are given.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pwsk.errors import PwskError
from pwsk.names import parse_fqn

from .common import (
    EXIT_GENERAL,
    CliError,
    bold,
    check_args,
    echo_table,
    failing,
    global_options,
    json_option,
    ok,
    print_json,
    state,
)
from .output import annotation, api_details, api_rows, api_table

if TYPE_CHECKING:
    from pwsk.client import Client
    from pwsk.names import FQN

Json = dict[str, Any]
VERBS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS")  # wsk's ApiVerbs
RESPONSE_TYPES = ("html", "http", "json", "text", "svg")
FORMATS = ("json", "yaml")
CREATE_ARGS = (
    "Specify a swagger file or specify an API base path with an API path, an API verb, and an "
    "action name."
)
_PATH_PARAMETER = re.compile(r"\A\{([^/]+)\}\Z")


@click.group("api")
def api() -> None:
    """Work with APIs: expose web actions as REST routes.

    \b
      pwsk action update hello hello.py --web true
      pwsk api create /shop /items get hello --response-type json
      pwsk api list
      curl http://127.0.0.1:3233/gw/guest/shop/items
      pwsk api delete /shop
    """


# --- argument checks (wsk's messages) -------------------------------------------------------


def _check_path(path: str) -> str:
    if not path.startswith("/"):
        raise CliError(f"'{path}' must begin with '/'.", usage=True)
    return path


def _check_verb(verb: str) -> str:
    if verb.upper() not in VERBS:
        raise CliError(
            f"'{verb}' is not a valid API verb.  Valid values are: [{' '.join(VERBS)}]",
            usage=True,
        )
    return verb.upper()


def path_parameters(path: str) -> list[str]:
    """The names of ``{name}`` segments, each once, in order."""
    names: list[str] = []
    for segment in path.split("/"):
        match = _PATH_PARAMETER.match(segment)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def _unparsable(message: str) -> CliError:
    return CliError(f"Unable to parse api command arguments: {message}", usage=True)


# --- create ---------------------------------------------------------------------------------


def route_apidoc(
    basepath: str, relpath: str, verb: str, fqn: FQN, api_name: str | None, response_type: str
) -> Json:
    """The ``apidoc`` wsk sends to ``createApi`` for one route (its fields in wsk's order)."""
    from pwsk.client import base_url

    props = state().props
    if path_parameters(basepath):
        raise _unparsable(
            f"The base path '{basepath}' cannot have parameters. Only the relative path "
            "supports path parameters."
        )
    try:
        _check_path(relpath)
        params = path_parameters(relpath)
        if params and response_type != "http":
            raise CliError("A response type of 'http' is required when using path parameters.")
        verb = _check_verb(verb)
    except CliError as exc:
        raise _unparsable(exc.message) from None
    package = fqn.package or "default"
    backend = f"{base_url(props.apihost, 'v1')}/web/{fqn.namespace}/{package}/{fqn.name}.http"
    apidoc: Json = {"namespace": "_"}
    if api_name:
        apidoc["apiName"] = api_name
    apidoc.update(
        gatewayBasePath=basepath,
        gatewayPath=relpath,
        gatewayMethod=verb,
        id=f"API:_:{basepath}",
        action={
            "name": fqn.relative,
            "namespace": fqn.namespace,
            "backendMethod": verb,
            "backendUrl": backend,
            "authkey": props.auth,
        },
    )
    if params:
        apidoc["pathParameters"] = [
            {
                "name": name,
                "in": "path",
                "description": f"Default description for '{name}'",
                "required": True,
                "type": "string",
            }
            for name in params
        ]
    return apidoc


def _web_action(client: Client, fqn: FQN) -> Json:
    """The action behind a route; it must be a web action, as wsk checks before creating."""
    from pwsk.client import ClientError

    shown = f"/{fqn.namespace}/{fqn.relative}"
    try:
        action = client.get_action(str(fqn), code=False)
    except ClientError as exc:
        raise CliError(f"Unable to get action '{shown}': {exc}", usage=True) from None
    if annotation(action, "web-export") is not True:
        raise CliError(
            f"Action '{shown}' is not a web action. Issue 'pwsk action update \"{shown}\" "
            "--web true' to convert the action to a web action.",
            usage=True,
        )
    return action


def _resolve_base(client: Client, first: str, api_name: str | None) -> tuple[str, str | None]:
    """A BASE_PATH argument, or the name of an existing API standing for its base path."""
    if first.startswith("/"):
        return first, api_name
    if api_name:
        raise _unparsable("An API name can only be specified once.")
    with failing("Unable to create API", exit_code=EXIT_GENERAL):
        apis = client.get_apis(first)
    for entry in apis:
        swagger = (entry.get("value") or {}).get("apidoc") or {}
        if (swagger.get("info") or {}).get("title") == first and swagger.get("basePath"):
            return str(swagger["basePath"]), first
    raise _unparsable(
        f"API does not exist for API name {first}; a new API needs a BASE_PATH that begins "
        "with '/'."
    )


def read_swagger(filename: str) -> str:
    """A Swagger 2.0 file (JSON, or YAML for ``.yaml``/``.yml``) as JSON text, checked as wsk."""

    def invalid(message: str) -> CliError:
        return CliError(f"Unable to parse swagger file: {message}", usage=True)

    try:
        text = Path(filename).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name, or not UTF-8
        raise invalid(f"Error reading swagger file '{filename}': {exc}") from None
    if filename.endswith(("yaml", "yml")):
        import yaml

        try:
            text = json.dumps(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            raise invalid(f"Unable to parse YAML configuration file: {exc}") from None
    try:
        swagger = json.loads(text)
    except ValueError as exc:
        raise invalid(f"Error parsing swagger file '{filename}': {exc}") from None
    if not isinstance(swagger, dict) or not all(
        swagger.get(k) for k in ("basePath", "swagger", "info", "paths")
    ):
        raise invalid("Swagger file is invalid (missing basePath, info, paths, or swagger fields)")
    if not str(swagger["basePath"]).startswith("/"):
        raise invalid("Swagger file basePath must start with a leading slash (/)")
    return text


@api.command("create")
@click.argument("args", nargs=-1, metavar="([BASE_PATH] API_PATH API_VERB ACTION | -c FILE)")
@click.option(
    "-n",
    "--apiname",
    metavar="NAME",
    help="Friendly NAME of the API; ignored with --config-file (default BASE_PATH).",
)
@click.option(
    "-c",
    "--config-file",
    "config_file",
    metavar="FILE",
    help="FILE containing the API configuration in Swagger JSON (or YAML) format.",
)
@click.option(
    "--response-type",
    "response_type",
    default="json",
    show_default=True,
    type=click.Choice(RESPONSE_TYPES, case_sensitive=False),
    help="The web action response TYPE.",
)
@json_option
@global_options()
def create(
    args: tuple[str, ...],
    apiname: str | None,
    config_file: str | None,
    response_type: str,
    as_json: bool,
    **_: Any,
) -> None:
    """Create an API route to a web action (base path / by default).

    \b
      pwsk api create /shop /items get list-items
      pwsk api create /shop /items/{id} get get-item --response-type http
      pwsk api create /hello get hello --apiname greetings
      pwsk api create --config-file shop-swagger.json
    """
    if not args and not config_file:
        raise CliError(f"Invalid argument(s). {CREATE_ARGS}", usage=True)
    client = state().client()
    response_type = response_type.lower()
    if not args:
        apidoc: Json = {"namespace": "_", "swagger": read_swagger(str(config_file))}
        with failing("Unable to create API", exit_code=EXIT_GENERAL):
            created = client.create_api(apidoc, response_type=response_type)
        if as_json:
            print_json(created)
            return
        for row in api_rows([{"value": created}]):
            base = (created.get("apidoc") or {}).get("basePath") or ""
            target = f" for action {bold(row.action)}" if row.action else ""
            ok(f"created API {base.rstrip('/')}{row.rel_path} {row.verb}{target}")
            click.echo(row.url)
        return

    check_args(args, 3, 4, CREATE_ARGS)
    basepath, api_name = "/", apiname
    if len(args) == 4:
        basepath, api_name = _resolve_base(client, args[0], apiname)
        args = args[1:]
    relpath, verb, action_name = args
    try:
        fqn = parse_fqn(action_name, "_")
    except PwskError as exc:
        raise _unparsable(f"'{action_name}' is not a valid action name: {exc.message}") from None
    apidoc = route_apidoc(basepath, relpath, verb, fqn, api_name, response_type)
    secret = annotation(_web_action(client, fqn), "require-whisk-auth")
    if secret is not None:
        apidoc["action"]["secureKey"] = secret
    with failing("Unable to create API", exit_code=EXIT_GENERAL):
        created = client.create_api(apidoc, response_type=response_type)
    if as_json:
        print_json(created)
        return
    action = apidoc["action"]
    ok(
        f"created API {basepath.rstrip('/')}{relpath} {apidoc['gatewayMethod']} for action "
        f"{bold('/' + action['namespace'] + '/' + action['name'])}"
    )
    click.echo(str(created.get("gwApiUrl") or "").rstrip("/") + relpath)


# --- get, list, delete ----------------------------------------------------------------------


@api.command("get")
@click.argument("args", nargs=-1, metavar="BASE_PATH | API_NAME")
@click.option("-f", "--full", is_flag=True, help="Display full API configuration details.")
@click.option(
    "--format",
    "output_format",
    default="json",
    show_default=True,
    metavar="TYPE",
    help="The API output TYPE, either json or yaml.",
)
@global_options()
def get(args: tuple[str, ...], full: bool, output_format: str, **_: Any) -> None:
    """Get an API's Swagger 2.0 description (the gateway's record with --full).

    \b
      pwsk api get /shop
      pwsk api get /shop --format yaml
      pwsk api get greetings --full
    """
    check_args(args, 1, 1, "An API base path or API name is required.")
    output_format = output_format.lower()
    if output_format not in FORMATS:
        raise CliError(f"Invalid format type: {output_format}")
    name = args[0]
    with failing(f"Unable to get API '{name}'", exit_code=EXIT_GENERAL):
        apis = state().client().get_apis(name)
    value = (apis[0].get("value") if apis else None) or None
    shown = value if full or value is None else value.get("apidoc")
    if shown is None:
        what = "basepath" if name.startswith("/") else "API name"
        raise CliError(f"API does not exist for {what} {name}")
    if output_format == "yaml":
        import yaml

        click.echo(yaml.safe_dump(shown, default_flow_style=False, allow_unicode=True))
    else:
        print_json(shown)


@api.command("delete")
@click.argument("args", nargs=-1, metavar="BASE_PATH | API_NAME [API_PATH [API_VERB]]")
@global_options()
def delete(args: tuple[str, ...], **_: Any) -> None:
    """Delete an API, one path of it, or one operation of a path.

    \b
      pwsk api delete /shop                 # the whole API
      pwsk api delete /shop /items          # every verb of /items
      pwsk api delete /shop /items post     # one operation
    """
    check_args(
        args,
        1,
        3,
        "An API base path or API name is required.  An optional API relative path and "
        "operation may also be provided.",
    )
    basepath = args[0]
    relpath = _check_path(args[1]) if len(args) > 1 else None
    verb = _check_verb(args[2]) if len(args) > 2 else None
    with failing("Unable to delete API", exit_code=EXIT_GENERAL):
        state().client().delete_api(basepath, relpath, verb)
    if relpath is None:
        ok(f"deleted API {basepath}")
    elif verb is None:
        ok(f"deleted {relpath} from {basepath}")
    else:
        ok(f"deleted {relpath} {verb} from {basepath}")


@api.command("list")
@click.argument("args", nargs=-1, metavar="[BASE_PATH | API_NAME [API_PATH [API_VERB]]]")
@click.option(
    "-s",
    "--skip",
    type=int,
    default=0,
    metavar="SKIP",
    help="Exclude the first SKIP number of APIs from the result.",
)
@click.option(
    "-l",
    "--limit",
    type=int,
    default=30,
    metavar="LIMIT",
    help="Only return LIMIT number of APIs (default 30).",
)
@click.option(
    "-n",
    "--name-sort",
    "name_sort",
    is_flag=True,
    help="Sort by base path (or API name), then path, then verb.",
)
@click.option("-f", "--full", is_flag=True, help="Display the full description of each API.")
@json_option
@global_options()
def list_(
    args: tuple[str, ...],
    skip: int,
    limit: int,
    name_sort: bool,
    full: bool,
    as_json: bool,
    **_: Any,
) -> None:
    """List API routes: the action, verb, API name and URL of each.

    \b
      pwsk api list
      pwsk api list /shop
      pwsk api list /shop /items get --full
    """
    check_args(
        args,
        0,
        3,
        "Optional parameters are: API base path (or API name), API relative path and operation.",
    )
    client = state().client()
    relpath = _check_path(args[1]) if len(args) > 1 else None
    verb = _check_verb(args[2]) if len(args) > 2 else None
    if args:
        # A filtered list is a getApi call, whose failures keep the HTTP status (as wsk).
        with failing("Unable to obtain the API list"):
            apis = client.get_apis(args[0], relpath, verb)
    else:
        with failing("Unable to obtain the API list", exit_code=EXIT_GENERAL):
            apis = client.get_apis(limit=limit, skip=skip)
    if as_json:
        print_json(apis)
        return
    rows = api_rows(apis, relpath, verb)
    ok("APIs")
    if full:
        for line in api_details(rows, name_sort=name_sort):
            click.echo(line)
        if not rows:
            click.echo()
    else:
        echo_table(api_table(rows, name_sort=name_sort))
