"""``pwsk sdk install`` and ``pwsk completion``: SDK downloads and shell completion scripts.

Completion is click's: the script calls ``pwsk`` back with ``_PWSK_COMPLETE`` set, and click
answers with the commands and options that fit. ``sdk install bashauto`` writes the bash
script to a file (or prints it with ``--stdout``), as ``wsk sdk install bashauto`` does.
``docker`` and ``ios`` download ``{host}/blackbox.tar.gz`` and
``{host}/OpenWhiskIOSStarterApp.zip`` as wsk does, where the deployment serves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .common import EXIT_GENERAL, CliError, global_options, state

COMPLETE_VAR = "_PWSK_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
BASH_COMPLETION_FILE = "pwsk_cli_bash_completion.sh"


@dataclass(frozen=True, slots=True)
class Sdk:
    filename: str
    unpack_dir: str | None  # a .tar.gz unpacked here, then removed


SDKS = {
    "docker": Sdk("blackbox.tar.gz", "dockerSkeleton"),
    "ios": Sdk("OpenWhiskIOSStarterApp.zip", None),
}


def completion_script(shell: str) -> str:
    """click's completion script for ``shell``, for the whole ``pwsk`` command tree."""
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root().command
    completer = get_completion_class(shell)
    if completer is None:  # pragma: no cover - SHELLS are all built into click
        raise CliError(f"Shell '{shell}' is not supported.", usage=True)
    return completer(root, {}, "pwsk", COMPLETE_VAR).source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
      eval "$(pwsk completion bash)"                   # in ~/.bashrc
      eval "$(pwsk completion zsh)"                    # in ~/.zshrc
      pwsk completion fish > ~/.config/fish/completions/pwsk.fish
    """
    click.echo(completion_script(shell))


@click.group("sdk")
def sdk() -> None:
    """Work with the SDK: shell completion, the Docker skeleton.

    \b
      pwsk sdk install bashauto && source pwsk_cli_bash_completion.sh
      pwsk sdk install bashauto --stdout >> ~/.bashrc
    """


@sdk.command("install")
@click.argument("args", nargs=-1, metavar="COMPONENT")
@click.option("-s", "--stdout", "to_stdout", is_flag=True, help="Print the bash completion script.")
@global_options()
def install(args: tuple[str, ...], to_stdout: bool, **_: Any) -> None:
    """Install SDK artifacts; COMPONENT is docker, ios or bashauto.

    \b
      pwsk sdk install bashauto          # writes pwsk_cli_bash_completion.sh
      pwsk sdk install bashauto --stdout
      pwsk sdk install docker            # unpacks dockerSkeleton/ (if the server has it)
    """
    if len(args) != 1:
        raise CliError(
            "The SDK component argument is missing. One component (docker, ios, or bashauto) "
            "must be specified",
            usage=True,
        )
    component = args[0].lower()
    if component == "bashauto":
        script = completion_script("bash")
        if to_stdout:
            click.echo(script)
            return
        try:
            Path(BASH_COMPLETION_FILE).write_text(script + "\n", encoding="utf-8")
        except OSError as exc:
            raise CliError(f"Unable to generate '{BASH_COMPLETION_FILE}': {exc}") from None
        click.echo(
            f"The bash auto-completion script ({BASH_COMPLETION_FILE}) is installed in the "
            "current directory.\nTo enable command line completion of pwsk commands, source the "
            "auto completion script into your bash environment"
        )
    elif component in SDKS:
        _install(component, SDKS[component])
    else:
        raise CliError(
            f"The SDK component argument '{component}' is invalid. Valid components are docker, "
            "ios and bashauto",
            usage=True,
        )


def _install(component: str, spec: Sdk) -> None:
    import io
    import tarfile

    from pwsk.client import ClientError

    def failure(reason: str) -> CliError:
        return CliError(f"The {component} SDK installation failed: {reason}", EXIT_GENERAL)

    target = Path(spec.filename)
    if target.exists():
        raise CliError(f"The file '{target}' already exists.  Delete it and retry.")
    if spec.unpack_dir and Path(spec.unpack_dir).exists():
        raise failure(f"The directory '{spec.unpack_dir}' already exists.  Delete it and retry.")
    try:
        data = state().client().download(spec.filename)
    except ClientError as exc:
        raise failure(f"Unable to retrieve '{spec.filename}' SDK: {exc}") from None
    if spec.unpack_dir is None:
        target.write_bytes(data)
        click.echo(
            f"Downloaded OpenWhisk iOS starter app. Unzip '{spec.filename}' and open the project "
            "in Xcode."
        )
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            # "data" refuses absolute paths, links out of the tree and device files.
            archive.extractall(".", filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise failure(f"Error untarring file '{spec.filename}': {exc}") from None
    click.echo("The docker skeleton is now installed at the current directory.")
