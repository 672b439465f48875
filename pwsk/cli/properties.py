"""``pwsk property set|unset|get``: the ``~/.wskprops`` settings.

``set``/``unset`` edit the properties file (``$WSK_CONFIG_FILE`` or ``~/.wskprops``); ``get``
shows the values in effect, environment variables included.
"""

from __future__ import annotations

from typing import Any

import click

from pwsk import __version__

from .common import CliError, bold, global_options, json_option, ok, print_json, state
from .config import DEFAULT_APIVERSION, DEFAULT_NAMESPACE, props_path, read_props, write_props

# property get/unset have boolean --auth/--apihost/--apiversion/--cert/--key of their own, and
# property set takes values for them, as in wsk.
_LOCAL = ("auth", "apihost", "apiversion", "cert", "key")


@click.group("property")
def property_() -> None:
    """Work with whisk properties (~/.wskprops).

    \b
      pwsk property set --apihost http://127.0.0.1:3233 --auth UUID:KEY
      pwsk property get --auth
      pwsk property unset --namespace
    """


def _props_file() -> Any:
    path = props_path()
    if path is None:
        raise CliError("Unable to set the property value(s): WSK_CONFIG_FILE is empty")
    return path


@property_.command("set")
@click.option("--apihost", "apihost_set", metavar="HOST", help="Whisk API HOST.")
@click.option("--apiversion", "apiversion_set", metavar="VERSION", help="Whisk API VERSION.")
@click.option(
    "--namespace",
    "namespace_set",
    metavar="NAMESPACE",
    help="Whisk NAMESPACE, for wskdeploy; like wsk, pwsk itself always uses your own ('_').",
)
@click.option("--cert", metavar="FILE", help="Client cert.")
@click.option("--key", metavar="FILE", help="Client key.")
@global_options(exclude=("apihost", "apiversion", "cert", "key"))
def set_(
    apihost_set: str | None,
    apiversion_set: str | None,
    namespace_set: str | None,
    cert: str | None,
    key: str | None,
) -> None:
    """Set properties; -u/--auth sets the key.

    \b
      pwsk property set --apihost http://127.0.0.1:3233
      pwsk property set -u 23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3x...
    """
    from pwsk.client import base_url

    path = _props_file()
    props = read_props(path)
    messages: list[str] = []
    error: CliError | None = None
    if cert:
        props["CERT"] = cert
        messages.append("client cert set. Run 'pwsk property get --cert' to see the new value.")
    if key:
        props["KEY"] = key
        messages.append("client key set. Run 'pwsk property get --key' to see the new value.")
    auth = state().auth
    if auth:
        props["AUTH"] = auth
        messages.append("whisk auth set. Run 'pwsk property get --auth' to see the new value.")
    if apihost_set:
        try:
            base_url(apihost_set)
        except ValueError as exc:
            error = CliError(
                f"Unable to set API host value; the API host value '{apihost_set}' is invalid: "
                f"{exc}",
                usage=True,
            )
        else:
            props["APIHOST"] = apihost_set
            messages.append(f"whisk API host set to {bold(apihost_set)}")
    if apiversion_set:
        props["APIVERSION"] = apiversion_set
        messages.append(f"whisk API version set to {bold(apiversion_set)}")
    if namespace_set:
        props["NAMESPACE"] = namespace_set
        messages.append(f"whisk namespace set to {bold(namespace_set)}")
    try:
        write_props(path, props)
    except OSError as exc:
        raise CliError(f"Unable to set the property value(s): {exc}") from None
    for message in messages:
        ok(message)
    if error:
        raise error


@property_.command("unset")
@click.option("--apihost", is_flag=True, help="Whisk API host.")
@click.option("--auth", is_flag=True, help="Authorization key.")
@click.option("--apiversion", is_flag=True, help="Whisk API version.")
@click.option("--namespace", is_flag=True, help="Whisk namespace.")
@click.option("--cert", is_flag=True, help="Client cert.")
@click.option("--key", is_flag=True, help="Client key.")
@global_options(exclude=_LOCAL)
def unset(
    apihost: bool, auth: bool, apiversion: bool, namespace: bool, cert: bool, key: bool
) -> None:
    """Unset properties.

    \b
      pwsk property unset --auth --apihost
    """
    path = _props_file()
    props = read_props(path)
    messages: list[str] = []
    for flag, name, label in (
        (cert, "CERT", "client cert"),
        (key, "KEY", "client key"),
        (auth, "AUTH", "whisk auth"),
        (apihost, "APIHOST", "whisk API host"),
    ):
        if flag:
            props.pop(name, None)
            messages.append(f"{label} unset.")
    if apiversion:
        props.pop("APIVERSION", None)
        messages.append(
            f"whisk API version unset; the default value of {bold(DEFAULT_APIVERSION)} will be "
            "used."
        )
    if namespace:
        props.pop("NAMESPACE", None)
        messages.append(
            f"whisk namespace unset; the default value of {bold(DEFAULT_NAMESPACE)} will be used."
        )
    try:
        write_props(path, props)
    except OSError as exc:
        raise CliError(f"Unable to unset the property value: {exc}") from None
    for message in messages:
        ok(message)


@property_.command("get")
@click.option("--apihost", is_flag=True, help="Whisk API host.")
@click.option("--auth", is_flag=True, help="Authorization key.")
@click.option("--apiversion", is_flag=True, help="Whisk API version.")
@click.option("--namespace", is_flag=True, help="Whisk namespace (asks the server).")
@click.option("--cert", is_flag=True, help="Client cert.")
@click.option("--key", is_flag=True, help="Client key.")
@click.option("--apibuild", is_flag=True, help="Whisk API build version.")
@click.option("--apibuildno", is_flag=True, help="Whisk API build number.")
@click.option("--cliversion", is_flag=True, help="Whisk CLI version.")
@click.option("--all", "all_", is_flag=True, help="All properties (the default).")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["std", "raw"]),
    default="std",
    help="Output format: std, or raw (the value only).",
)
@json_option
@global_options(exclude=_LOCAL)
def get(
    apihost: bool,
    auth: bool,
    apiversion: bool,
    namespace: bool,
    cert: bool,
    key: bool,
    apibuild: bool,
    apibuildno: bool,
    cliversion: bool,
    all_: bool,
    output: str,
    as_json: bool,
) -> None:
    """Get properties (all of them without flags).

    \b
      pwsk property get
      pwsk property get --auth -o raw
      pwsk property get --json        # {"apihost": ..., "auth": ..., ...}
    """
    chosen = (apihost, auth, apiversion, namespace, cert, key, apibuild, apibuildno, cliversion)
    all_ = all_ or not any(chosen)
    if all_ and output != "std":
        raise CliError("--output|-o raw only supported with specific property type")
    props = state().props
    shown: dict[str, str] = {}

    def show(name: str, label: str, value: str, tabs: str = "\t\t") -> None:
        shown[name] = value
        if not as_json:
            click.echo(bold(value) if output == "raw" else f"{label}{tabs}{bold(value)}")

    if all_ or apihost:
        show("apihost", "whisk API host", props.apihost)
    if all_ or auth:
        show("auth", "whisk auth", props.auth)
    if all_ or namespace:
        show("namespace", "whisk namespace", _namespace())
    if all_ or cert:
        show("cert", "client cert", props.cert)
    if all_ or key:
        show("key", "Client key", props.key)
    if all_ or apiversion:
        show("apiversion", "whisk API version", props.apiversion, "\t")
    if all_ or cliversion:
        show("cliversion", "whisk CLI version", __version__, "\t")
    problem = None
    if all_ or apibuild or apibuildno:
        build, buildno, problem = _build_info()
        if all_ or apibuild:
            show("apibuild", "whisk API build", build)
        if all_ or apibuildno:
            show("apibuildno", "whisk API build number", buildno, "\t")
    if as_json:
        print_json(shown)
    if problem:
        raise CliError(f"Unable to obtain API build information: {problem}")


def _namespace() -> str:
    from pwsk.client import ClientError

    try:
        names = state().client().namespaces()
    except (CliError, ClientError):
        return DEFAULT_NAMESPACE
    return names[0] if names else DEFAULT_NAMESPACE


def _build_info() -> tuple[str, str, str | None]:
    from pwsk.client import ClientError

    try:
        info = state().client().info()
    except CliError as exc:
        return "Unknown", "Unknown", exc.message
    except ClientError as exc:
        return "Unknown", "Unknown", str(exc)
    return str(info.get("build", "")), str(info.get("buildno", "")), None
