"""``pwsk package``: packages, bindings, and what they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import params as P
from .common import (
    EXIT_NETWORK,
    CliError,
    bold,
    check_args,
    failed,
    failing,
    find_field,
    global_options,
    json_option,
    namespace_only,
    ok,
    param_options,
    print_json,
    qualify,
    secret_param_option,
    state,
)
from .listing import fetch_list, list_options, show_list
from .output import package_summary

Json = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
PACKAGE_FIELDS = (
    "namespace",
    "name",
    "version",
    "publish",
    "annotations",
    "parameters",
    "binding",
    "actions",
    "feeds",
    "updated",
)


@click.group("package")
def package() -> None:
    """Work with packages.

    \b
      pwsk package create tools -p region eu --shared yes
      pwsk action create tools/greet greet.py
      pwsk package bind /whisk.system/utils myutils -p sep ","
    """


def _shared(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() == "yes":
        return True
    if value.lower() == "no":
        return False
    raise CliError(f"Cannot use value '{value}' for shared.", usage=True)


def _put_package(args: tuple[str, ...], opts: dict[str, Any], *, update: bool) -> None:
    check_args(args, 1, 1, "A package name is required.")
    fqn = qualify(args[0])
    shared = _shared(opts["shared"])
    params, secret = P.with_secrets(P.key_values(opts["params"], opts["param_file"]), opts)
    annotations = P.key_values(opts["annotations"], opts["annotation_file"], "annotation")
    body: Json = {}
    if params or opts["params"] or opts["param_file"] or not update:
        body["parameters"] = P.to_kv(params, secret)
    if annotations or opts["annotations"] or opts["annotation_file"] or not update:
        body["annotations"] = P.to_kv(annotations)
    if shared is not None:
        body["publish"] = shared
    what = "Package update failed" if update else f"Unable to create package '{fqn.relative}'"
    with failing(what):
        state().client().put_package(str(fqn), body, overwrite=update)
    ok(f"{'updated' if update else 'created'} package {bold(fqn.relative)}")


def _shared_option(fn: F) -> F:
    return click.option(
        "--shared",
        metavar="yes|no",
        help="Package visibility: yes = shared (public), no = private.",
    )(fn)


@package.command("create")
@click.argument("args", nargs=-1, metavar="PACKAGE_NAME")
@_shared_option
@param_options
@secret_param_option
@global_options()
def create(args: tuple[str, ...], **opts: Any) -> None:
    """Create a new package.

    \b
      pwsk package create tools -p region eu
    """
    _put_package(args, opts, update=False)


@package.command("update")
@click.argument("args", nargs=-1, metavar="PACKAGE_NAME")
@_shared_option
@param_options
@secret_param_option
@global_options()
def update(args: tuple[str, ...], **opts: Any) -> None:
    """Update an existing package, or create it if it does not exist.

    \b
      pwsk package update tools --shared yes
    """
    _put_package(args, opts, update=True)


@package.command("bind")
@click.argument("args", nargs=-1, metavar="PACKAGE_NAME BOUND_PACKAGE_NAME")
@param_options
@secret_param_option
@click.option("-o", "--overwrite", is_flag=True, help="Overwrite an existing binding.")
@global_options()
def bind(args: tuple[str, ...], overwrite: bool, **opts: Any) -> None:
    """Bind parameters to a package: a binding is a package that points at another.

    \b
      pwsk package bind /whisk.system/utils myutils -p sep ","
    """
    check_args(args, 2, 2, "A package name and binding name are required.")
    source = qualify(args[0])
    binding = qualify(args[1])
    body: Json = {
        "binding": {"namespace": source.namespace, "name": source.relative},
        "parameters": P.to_kv(*P.with_secrets(P.key_values(opts["params"], opts["param_file"]),
                                              opts)),
        "annotations": P.to_kv(
            P.key_values(opts["annotations"], opts["annotation_file"], "annotation")
        ),
    }
    with failing("Binding creation failed"):
        state().client().put_package(str(binding), body, overwrite=overwrite)
    ok(f"created binding {bold(args[1])}")


@package.command("get")
@click.argument("args", nargs=-1, metavar="PACKAGE_NAME [FIELD_FILTER]")
@click.option(
    "-s", "--summary", is_flag=True, help='Summarize package details; bound parameters get "*".'
)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON.")
@global_options()
def get(args: tuple[str, ...], summary: bool, as_json: bool, **_: Any) -> None:
    """Get a package, with the actions and feeds it holds.

    \b
      pwsk package get tools
      pwsk package get tools --summary
    """
    check_args(args, 1, 2, "A package name is required.")
    fqn = qualify(args[0])
    field = args[1] if len(args) > 1 else None
    if field is not None:
        find_field({}, field, PACKAGE_FIELDS)
    with failing(f"Unable to get package '{fqn.relative}'"):
        entity = state().client().get_package(str(fqn))
    if summary:
        click.echo("\n".join(package_summary(entity)))
    elif field is not None:
        if not as_json:
            ok(f"got package {bold(fqn.relative)}, displaying field {bold(field)}")
        print_json(find_field(entity, field, PACKAGE_FIELDS))
    else:
        if not as_json:
            ok(f"got package {bold(fqn.relative)}")
        print_json(entity)


@package.command("delete")
@click.argument("args", nargs=-1, metavar="PACKAGE_NAME")
@click.option("--force", is_flag=True, help="Also delete the actions the package holds.")
@global_options()
def delete(args: tuple[str, ...], force: bool, **_: Any) -> None:
    """Delete a package (it must be empty unless --force).

    \b
      pwsk package delete tools
    """
    check_args(args, 1, 1, "A package name is required.")
    fqn = qualify(args[0])
    with failing(f"Unable to delete package '{fqn.relative}'"):
        state().client().delete_package(str(fqn), force=force)
    ok(f"deleted package {bold(fqn.relative)}")


@package.command("list")
@list_options("packages")
def list_(
    args: tuple[str, ...], skip: int, limit: int, name_sort: bool, as_json: bool, **_: Any
) -> None:
    """List packages; in another namespace, only its shared ones.

    \b
      pwsk package list
      pwsk package list /whisk.system
    """
    items = fetch_list(args, "packages", skip, limit, state().client().list_packages)
    show_list("packages", items, name_sort, as_json)


# A server without provider bindings refuses the refresh route with one of these.
_NO_REFRESH = (404, 405, 501)


@package.command("refresh")
@click.argument("args", nargs=-1, metavar="[NAMESPACE]")
@json_option
@global_options()
def refresh(args: tuple[str, ...], as_json: bool, **_: Any) -> None:
    """Refresh the package bindings a provider manages for a namespace.

    OpenWhisk deployments with a package provider (IBM Cloud's, historically) keep bindings
    of its packages in step with your namespace. pwsk, like open-source OpenWhisk, has none,
    and says so.

    \b
      pwsk package refresh
      pwsk package refresh /guest
    """
    from pwsk.client import ClientError, NetworkError

    check_args(args, 0, 1, "An optional namespace is the only valid argument.")
    namespace = namespace_only(args[0] if args else None)
    shown = namespace or "_"
    try:
        updates = state().client().refresh_packages(namespace=namespace)
    except NetworkError as exc:
        raise CliError(
            f"Package refresh for namespace '{shown}' failed: {exc}", EXIT_NETWORK
        ) from None
    except ClientError as exc:
        if exc.status in _NO_REFRESH:
            raise CliError(
                "The package refresh feature is not implemented in the target deployment",
                EXIT_NETWORK,
            ) from None
        raise failed(f"Package refresh for namespace '{shown}' failed", exc) from None
    if as_json:
        print_json(updates)
        return
    click.echo(f"'{shown}' refreshed successfully")
    for label, key in (("created", "added"), ("updated", "updated"), ("deleted", "deleted")):
        click.echo(f"{label} bindings:")
        for name in updates.get(key) or []:
            click.echo(str(name))
