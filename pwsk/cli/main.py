"""The ``pwsk`` command: a wsk-compatible CLI for pwsk and any OpenWhisk deployment.

Commands mirror ``wsk``'s (action, activation, package, rule, trigger, namespace, property,
list, api, sdk, project) with the same flags, messages and exit codes, plus ``standalone`` to
run a server and ``completion`` to print a shell completion script. Global flags (``-u``,
``--apihost``, ``-i``, ``-v``...) are accepted before or after the command, as wsk accepts
them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from pwsk import __version__

from .actions import action
from .activations import activation
from .admin import admin
from .apis import api
from .common import EXIT_USAGE, CliError, global_options
from .deploy import deploy_command, undeploy_command
from .namespaces import get as namespace_get
from .namespaces import namespace
from .packages import package
from .project import project
from .properties import property_
from .rules import rule
from .sdk import completion, sdk
from .standalone import standalone
from .triggers import trigger


class Pwsk(click.Group):
    """The root group: reports errors as ``error: ...`` with wsk's exit codes."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            # A shell passes bytes; those that are not UTF-8 arrive as lone surrogates, which
            # no request or file name can carry.
            for arg in sys.argv[1:] if args is None else args:
                try:
                    arg.encode("utf-8")
                except UnicodeEncodeError:
                    raise click.UsageError(f"the argument {arg!r} is not valid UTF-8.") from None
            code = super().main(
                args, prog_name or "pwsk", complete_var, standalone_mode=False, **extra
            )
        except CliError as exc:
            exc.show()
            code = exc.exit_code
        except click.UsageError as exc:
            click.echo(click.style("error:", fg="red") + " " + exc.format_message(), err=True)
            path = exc.ctx.command_path if exc.ctx else "pwsk"
            click.echo(f"Run '{path} --help' for usage.", err=True)
            code = EXIT_USAGE
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except click.Abort:
            click.echo("Aborted!", err=True)
            code = 1
        except KeyboardInterrupt:
            code = 130
        except BrokenPipeError:
            # `pwsk activation list | head`: the reader left; say nothing more.
            sys.stderr.close()
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group("pwsk", cls=Pwsk, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="pwsk", message="%(prog)s %(version)s")
@global_options()
def cli() -> None:
    """pwsk: a command line for pwsk and OpenWhisk, compatible with wsk.

    \b
    Set up once (the key is the standalone server's guest key):
      pwsk property set --apihost http://127.0.0.1:3233 --auth UUID:KEY
    Then:
      pwsk action create hello hello.py
      pwsk action invoke hello -p name Ada --result
      pwsk activation list
    Shell completion: eval "$(pwsk completion bash)"
    """


for command in (
    action,
    activation,
    package,
    rule,
    trigger,
    sdk,
    property_,
    namespace,
    api,
    project,
    standalone,
    completion,
    deploy_command,
    undeploy_command,
    admin,
):
    cli.add_command(command)
cli.add_command(namespace_get, name="list")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="pwsk")


if __name__ == "__main__":
    main()
