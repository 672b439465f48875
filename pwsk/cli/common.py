"""What every command shares: global flags, the REST client, names, and wsk-style messages.

Errors are ``CliError``: printed as ``error: <message>`` on stderr (plus a pointer to
``--help`` for usage mistakes) with wsk's exit codes. A refusal from the server keeps wsk's
convention of exiting with ``HTTP status - 256`` (404 → 148, 409 → 153, 502 → 246).

The client module pulls in httpx, so it is imported only when a command talks to a server;
``pwsk --help`` and ``pwsk property ...`` stay quick.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pwsk.errors import PwskError
from pwsk.names import FQN, parse_fqn

from .config import DEFAULT_NAMESPACE, Properties, load_properties

if TYPE_CHECKING:
    from pwsk.client import Client, ClientError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_GENERAL = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_NOT_ALLOWED = 149
EXIT_TIMED_OUT = 202
JSON_INDENT = 4  # wsk pretty-prints with four spaces


def exit_code_for_status(status: int) -> int:
    """wsk exits with ``status - 256``, which the OS reads modulo 256."""
    return (status - 256) & 0xFF


class CliError(click.ClickException):
    """A failure to report as ``error: ...``; ``usage`` adds "Run '... --help' for usage."."""

    def __init__(self, message: str, exit_code: int = EXIT_GENERAL, *, usage: bool = False):
        super().__init__(message)
        # click declares exit_code a class variable; each error carries its own.
        vars(self)["exit_code"] = exit_code
        self.usage = usage
        ctx = click.get_current_context(silent=True)
        self.command_path = ctx.command_path if ctx else "pwsk"

    def show(self, file: Any = None) -> None:
        click.echo(click.style("error:", fg="red") + " " + self.message, err=True)
        if self.usage:
            click.echo(f"Run '{self.command_path} --help' for usage.", err=True)


def failed(
    what: str, exc: ClientError, *, usage: bool = False, exit_code: int | None = None
) -> CliError:
    """``Unable to create action 'x': <server message> (code <tid>)`` with wsk's exit code.

    That code is ``status - 256`` unless the command fixes one (wsk's ``api`` commands exit 1).
    """
    from pwsk.client import NetworkError

    if isinstance(exc, NetworkError):
        code = EXIT_NETWORK
    elif exit_code is not None:
        code = exit_code
    else:
        code = exit_code_for_status(exc.status)
    return CliError(f"{what}: {exc}", code, usage=usage)


@contextmanager
def failing(what: str, *, usage: bool = False, exit_code: int | None = None) -> Iterator[None]:
    """Turn a ``ClientError`` raised inside the block into ``failed(what, ...)``."""
    from pwsk.client import ClientError

    try:
        yield
    except ClientError as exc:
        raise failed(what, exc, usage=usage, exit_code=exit_code) from None


# --- global flags and the client ---------------------------------------------------------


@dataclass
class State:
    """Global flags given anywhere on the command line, and what they resolve to."""

    auth: str | None = None
    apihost: str | None = None
    apiversion: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    verbose: bool = False
    debug: bool = False
    transport: Any = None  # an httpx transport, for tests that fake the server
    _props: Properties | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)

    @property
    def props(self) -> Properties:
        """Properties file and environment, overridden by the flags."""
        if self._props is None:
            props = load_properties()
            if self.auth:
                props.auth = self.auth
            if self.apihost:
                props.apihost = self.apihost.rstrip("/")
            if self.apiversion:
                props.apiversion = self.apiversion
            if self.cert:
                props.cert = self.cert
            if self.key:
                props.key = self.key
            self._props = props
        return self._props

    def client(self) -> Client:
        if self._client is not None:
            return self._client
        from pwsk.client import Client, base_url

        props = self.props
        try:
            base_url(props.apihost, props.apiversion)
        except ValueError as exc:
            raise CliError(
                f"The API host is not valid: {exc}\n"
                "Set it with 'pwsk property set --apihost HOST' (a local server is "
                "http://127.0.0.1:3233) or pass --apihost."
            ) from None
        if not props.auth:
            raise CliError(
                "Authorization key is not configured (--auth is required)", EXIT_USAGE, usage=True
            )
        hook = _verbose_echo if (self.verbose or self.debug) else None
        try:
            self._client = Client(
                props.apihost,
                props.auth,
                namespace=DEFAULT_NAMESPACE,  # wsk ignores NAMESPACE: "_" is the key's own
                apiversion=props.apiversion,
                insecure=self.insecure,
                cert=props.cert or None,
                key=props.key or None,
                apigw_access_token=props.apigw_access_token or None,
                verbose=hook,
                verbose_body_limit=None if self.debug else 1000,
                transport=self.transport,
            )
        except ValueError as exc:  # a client certificate that does not load
            raise CliError(str(exc)) from None
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.find_root().call_on_close(self._client.close)
        return self._client


def _verbose_echo(text: str) -> None:
    # stderr, so -v never corrupts output that a script parses.
    click.echo(text, err=True)


def state() -> State:
    return click.get_current_context().find_root().ensure_object(State)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.find_root().ensure_object(State), name, value)

    return callback


_GLOBALS: dict[str, Callable[[F], F]] = {
    "auth": click.option(
        "-u",
        "--auth",
        metavar="KEY",
        expose_value=False,
        callback=_store("auth"),
        help="Authorization KEY (uuid:key).",
    ),
    "apihost": click.option(
        "--apihost",
        metavar="HOST",
        expose_value=False,
        callback=_store("apihost"),
        help="Whisk API HOST (a bare host means https).",
    ),
    "apiversion": click.option(
        "--apiversion",
        metavar="VERSION",
        expose_value=False,
        callback=_store("apiversion"),
        help="Whisk API VERSION (v1).",
    ),
    "cert": click.option(
        "--cert",
        metavar="FILE",
        expose_value=False,
        callback=_store("cert"),
        help="Client certificate FILE (PEM), for mutual TLS.",
    ),
    "key": click.option(
        "--key",
        metavar="FILE",
        expose_value=False,
        callback=_store("key"),
        help="Client key FILE (PEM) for --cert.",
    ),
    "insecure": click.option(
        "-i",
        "--insecure",
        is_flag=True,
        expose_value=False,
        callback=_store("insecure"),
        help="Bypass certificate checking.",
    ),
    "verbose": click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_store("verbose"),
        help="Print HTTP requests and responses (bodies cut at 1000 bytes).",
    ),
    "debug": click.option(
        "-d",
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_store("debug"),
        help="Like --verbose, with whole bodies.",
    ),
}


def global_options(*, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Accept the global flags on this command too, as wsk does (``action list -i``)."""

    def decorate(fn: F) -> F:
        for name, option in reversed(_GLOBALS.items()):
            if name not in exclude:
                fn = option(fn)
        return fn

    return decorate


def secret_param_option(fn: F) -> F:
    """``--param-secret KEY VALUE``: a parameter whose value the API and logs never show."""
    return click.option(
        "--param-secret",
        "secret_params",
        nargs=2,
        multiple=True,
        metavar="KEY VALUE",
        help="A secret parameter: shown as ******** by get, masked in activation logs "
        "and results (VALUE is JSON if it parses).",
    )(fn)


def param_options(fn: F) -> F:
    """``-p``/``-P``/``-a``/``-A``, as on every create/update command."""
    fn = click.option(
        "-A",
        "--annotation-file",
        "annotation_file",
        metavar="FILE",
        help="FILE containing annotation values in JSON format.",
    )(fn)
    fn = click.option(
        "-a",
        "--annotation",
        "annotations",
        nargs=2,
        multiple=True,
        metavar="KEY VALUE",
        help="Annotation values in KEY VALUE format.",
    )(fn)
    fn = click.option(
        "-P",
        "--param-file",
        "param_file",
        metavar="FILE",
        help="FILE containing parameter values in JSON format.",
    )(fn)
    fn = click.option(
        "-p",
        "--param",
        "params",
        nargs=2,
        multiple=True,
        metavar="KEY VALUE",
        help="Parameter values in KEY VALUE format (VALUE is JSON if it parses).",
    )(fn)
    return fn


# --- names and arguments -----------------------------------------------------------------


def qualify(name: str) -> FQN:
    """Parse ``name``/``pkg/name``/``/ns[/pkg]/name``; unqualified means the default namespace."""
    try:
        return parse_fqn(name, DEFAULT_NAMESPACE)
    except PwskError as exc:
        raise CliError(
            f"'{name}' is not a valid qualified name: {exc.message}", usage=True
        ) from None


def display(fqn: FQN) -> str:
    """``/ns/[pkg/]name`` as wsk prints it in ``ok: invoked ...`` lines."""
    return f"/{fqn.namespace}/{fqn.relative}"


def namespace_label(namespace: str) -> str:
    """wsk calls your own namespace (``_``) "default" in messages."""
    return "default" if namespace == "_" else namespace


def namespace_only(arg: str | None) -> str | None:
    """The optional ``/NAMESPACE`` argument of ``trigger|rule|package list``."""
    if not arg:
        return None
    parts = arg.strip("/").split("/")
    if arg.startswith("/") and len(parts) == 1 and parts[0]:
        return parts[0]
    raise CliError(
        f"An entity name, '{arg}', was provided instead of a namespace. Valid namespaces are "
        "of the following format: /NAMESPACE.",
        usage=True,
    )


def check_args(args: tuple[str, ...], low: int, high: int, required: str) -> None:
    """wsk's argument-count messages: ``Invalid argument(s). An action name is required.``"""
    if len(args) < low:
        raise CliError(f"Invalid argument(s). {required}", usage=True)
    if len(args) > high:
        extra = ", ".join(args[high:])
        raise CliError(f"Invalid argument(s): {extra}. {required}", usage=True)


# --- output -------------------------------------------------------------------------------


def bold(text: object) -> str:
    return click.style(str(text), bold=True)


def ok(message: str, *, err: bool = False) -> None:
    click.echo(click.style("ok:", fg="green") + " " + message, err=err)


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=JSON_INDENT, ensure_ascii=False, sort_keys=sort_keys)


def print_json(value: Any, *, sort_keys: bool = False, err: bool = False) -> None:
    click.echo(dumps(value, sort_keys=sort_keys), err=err)


def json_option(fn: F) -> F:
    """``--json``: print only the structured result, as JSON, for scripts."""
    option = click.option("--json", "as_json", is_flag=True, help="Print only the result, as JSON.")
    return option(fn)


def find_field(entity: dict[str, Any], field_name: str, known: tuple[str, ...]) -> Any:
    """The value of ``field_name`` (case-insensitive); unknown fields are a usage error."""
    lowered = field_name.lower()
    for key, value in entity.items():
        if key.lower() == lowered:
            return value
    if lowered in known:
        return None
    raise CliError(f"Invalid field filter '{field_name}'.", EXIT_USAGE, usage=True)


def flush_and_exit(code: int) -> None:
    sys.stdout.flush()
    click.get_current_context().exit(code)


def echo_table(lines: list[str]) -> None:
    """Print a table from ``output``: the first line (the header) in bold."""
    for index, line in enumerate(lines):
        click.echo(bold(line) if index == 0 else line)
