"""``pwsk admin``: operators' views of a deployment (invoker health) and its keys.

``pwsk admin user`` follows OpenWhisk's ``wskadmin user`` (create, list, delete, block,
unblock) over the controller's admin API, with a key of ``whisk.system`` (``-u``). A new
key's secret is printed once, by ``create``; nothing else ever shows one. ``pwsk admin
limits`` follows ``wskadmin limits`` (set, get, delete a namespace's throttles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import click

from .common import echo_table, failing, global_options, json_option, print_json, state

if TYPE_CHECKING:  # the HTTP stack loads only when a command calls the server
    import httpx


@click.group("admin")
def admin() -> None:
    """Look at the deployment as an operator; manage keys.

    \b
      pwsk admin invokers
      pwsk admin user create alice
      pwsk admin user list
      pwsk admin limits set alice --invocationsPerMinute 120
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


# --- keys and subjects ---------------------------------------------------------------------


def _answer(response: httpx.Response) -> Any:
    import orjson

    from pwsk.client import ClientError

    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ClientError(response.status_code, "The server sent a body that is not JSON.") \
            from None


def _admin(method: str, path: str, *, body: Any = None,
           params: dict[str, str] | None = None) -> Any:
    """One call to the controller's admin API (``/admin/...``) with the configured key."""
    from pwsk.client import Call

    call = Call(method, path, _answer, params=params or {}, body=body, root=True,
                keep_key=True)
    return state().client().send(call)


def _segment(value: str) -> str:
    return quote(value, safe="@&")


namespace_option = click.option("-ns", "--namespace", "namespace", metavar="NAMESPACE",
                                help="The namespace (default: the subject's own).")


@admin.group("user")
def user() -> None:
    """Manage subjects and their keys (as OpenWhisk's wskadmin user).

    \b
      pwsk admin user create alice              # prints alice's new key, once
      pwsk admin user create bob -ns shared     # a key of bob's for namespace shared
      pwsk admin user list                      # uuids, subjects, namespaces; no secrets
      pwsk admin user block alice
      pwsk admin user unblock alice
      pwsk admin user revoke UUID               # one key
      pwsk admin user delete alice              # every key of alice's
    """


@user.command("create")
@click.argument("subject")
@namespace_option
@json_option
@global_options()
def user_create(subject: str, namespace: str | None, as_json: bool = False, **_: Any) -> None:
    """Create a key for SUBJECT and print it (uuid:key); it is shown only this once."""
    body = {"subject": subject} if namespace is None else {"subject": subject,
                                                           "namespace": namespace}
    with failing(f"Unable to create a key for '{subject}'"):
        created = _admin("POST", "/admin/keys", body=body)
    if as_json:
        print_json(created)
        return
    click.echo(created["key"])


@user.command("list")
@click.argument("namespace", required=False)
@click.option("--subject", help="Only the keys of this subject.")
@click.option("-a", "--all", "everything", is_flag=True,
              help="Revoked keys and web actions' keys too.")
@json_option
@global_options()
def user_list(namespace: str | None, subject: str | None, everything: bool,
              as_json: bool = False, **_: Any) -> None:
    """List keys (of NAMESPACE): uuid, subject, namespace and status; never secrets."""
    params = {k: v for k, v in (("namespace", namespace), ("subject", subject)) if v}
    if everything:
        params["all"] = "true"
    with failing("Unable to list the keys"):
        keys = _admin("GET", "/admin/keys", params=params)
    if as_json:
        print_json(keys)
        return
    rows = [(k["uuid"], k["subject"], k["namespace"], _status(k)) for k in keys]
    widths = [max([len(h)] + [len(r[i]) for r in rows])
              for i, h in enumerate(("uuid", "subject", "namespace"))]
    echo_table([f"{'uuid':<{widths[0]}}  {'subject':<{widths[1]}}  "
                f"{'namespace':<{widths[2]}}  status"]
               + [f"{u:<{widths[0]}}  {s:<{widths[1]}}  {n:<{widths[2]}}  {st}"
                  for u, s, n, st in rows])


def _status(key: dict[str, Any]) -> str:
    if key.get("revoked"):
        return "revoked"
    if key.get("blocked"):
        return "blocked"
    return "web" if key.get("expires") else "active"


@user.command("revoke")
@click.argument("uuid")
@global_options()
def user_revoke(uuid: str, **_: Any) -> None:
    """Revoke the key UUID: it is refused from the next request on, on every controller."""
    with failing(f"Unable to revoke key '{uuid}'"):
        _admin("DELETE", f"/admin/keys/{_segment(uuid)}")
    click.echo(f"Key {uuid} revoked")


@user.command("delete")
@click.argument("subject")
@namespace_option
@global_options()
def user_delete(subject: str, namespace: str | None, **_: Any) -> None:
    """Revoke every key of SUBJECT (in NAMESPACE only, with -ns)."""
    params = {"namespace": namespace} if namespace else {}
    with failing(f"Unable to delete subject '{subject}'"):
        done = _admin("DELETE", f"/admin/subjects/{_segment(subject)}", params=params)
    click.echo(f"Subject deleted ({len(done['revoked'])} keys revoked)" if not namespace
               else f"Namespace {namespace} deleted for {subject} "
                    f"({len(done['revoked'])} keys revoked)")


@user.command("block")
@click.argument("subjects", nargs=-1, required=True)
@global_options()
def user_block(subjects: tuple[str, ...], **_: Any) -> None:
    """Block every key of each SUBJECT (they get 401 until unblocked)."""
    for subject in subjects:
        with failing(f"Unable to block '{subject}'"):
            _admin("POST", f"/admin/subjects/{_segment(subject)}/block")
        click.echo(f'"{subject}" blocked successfully')


@user.command("unblock")
@click.argument("subjects", nargs=-1, required=True)
@global_options()
def user_unblock(subjects: tuple[str, ...], **_: Any) -> None:
    """Unblock every key of each SUBJECT."""
    for subject in subjects:
        with failing(f"Unable to unblock '{subject}'"):
            _admin("POST", f"/admin/subjects/{_segment(subject)}/unblock")
        click.echo(f'"{subject}" unblocked successfully')


# --- namespace limits ----------------------------------------------------------------------


@admin.group("limits")
def limits() -> None:
    """Set, show or remove a namespace's limits (as OpenWhisk's wskadmin limits).

    A change applies on every controller at once (within 10 s at worst).

    \b
      pwsk admin limits set alice --invocationsPerMinute 120 --concurrentInvocations 10
      pwsk admin limits get alice               # '(default)' marks what was not set
      pwsk admin limits delete alice            # the deployment's defaults apply again
    """


@limits.command("set")
@click.argument("namespace")
@click.option("--invocationsPerMinute", "invocationsPerMinute", type=click.IntRange(0),
              metavar="N", help="Invocations allowed per calendar minute.")
@click.option("--firesPerMinute", "firesPerMinute", type=click.IntRange(0), metavar="N",
              help="Trigger fires allowed per calendar minute.")
@click.option("--concurrentInvocations", "concurrentInvocations", type=click.IntRange(0),
              metavar="N", help="Activations allowed in flight at once.")
@click.option("--storeActivations", "storeActivations", type=bool, metavar="true|false",
              help="Whether activation records are stored.")
@global_options()
def limits_set(namespace: str, **options: Any) -> None:
    """Set limits of NAMESPACE (the others keep their values)."""
    body = {k: options[k] for k in ("invocationsPerMinute", "firesPerMinute",
                                     "concurrentInvocations", "storeActivations")
            if options.get(k) is not None}
    if not body:
        raise click.UsageError("give at least one limit, e.g. --invocationsPerMinute 120")
    with failing(f"Unable to set the limits of '{namespace}'"):
        _admin("PUT", f"/admin/namespaces/{_segment(namespace)}/limits", body=body)
    click.echo(f"Limits successfully set for \"{namespace}\"")


@limits.command("get")
@click.argument("namespace")
@json_option
@global_options()
def limits_get(namespace: str, as_json: bool = False, **_: Any) -> None:
    """Show the limits NAMESPACE runs under; '(default)' marks those not set for it."""
    with failing(f"Unable to get the limits of '{namespace}'"):
        view = _admin("GET", f"/admin/namespaces/{_segment(namespace)}/limits")
    if as_json:
        print_json(view)
        return
    if not view["limits"]:
        click.echo(f"No limits found for \"{namespace}\", default system limits apply:")
    for name, value in view["effective"].items():
        shown = str(value).lower() if isinstance(value, bool) else value
        click.echo(f"{name} = {shown}" + (" (default)" if name in view["defaults"] else ""))


@limits.command("delete")
@click.argument("namespace")
@global_options()
def limits_delete(namespace: str, **_: Any) -> None:
    """Remove the limits of NAMESPACE: the deployment's defaults apply again."""
    with failing(f"Unable to delete the limits of '{namespace}'"):
        _admin("DELETE", f"/admin/namespaces/{_segment(namespace)}/limits")
    click.echo(f"Limits deleted for \"{namespace}\"")
