"""``pwsk project``: deploy manifests with wskdeploy, as ``wsk project`` does.

wsk links wskdeploy (apache/openwhisk-wskdeploy) into its binary; pwsk runs the ``wskdeploy``
program found on PATH instead, passing every argument through, plus the API host, key and
client certificate that pwsk resolved when the command line does not give them.
"""

from __future__ import annotations

import click

from .common import EXIT_GENERAL, CliError, state

WSKDEPLOY = "wskdeploy"
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@click.group("project")
def project() -> None:
    """Work with projects: deploy, undeploy, sync or export manifests (runs wskdeploy).

    \b
      pwsk project deploy -m manifest.yaml
      pwsk project undeploy -m manifest.yaml
      pwsk project export --projectname shop -m exported.yaml
    Every flag is wskdeploy's: run 'wskdeploy --help'.
    """


def _run(subcommand: str | None, args: tuple[str, ...]) -> None:
    import shutil
    import subprocess

    program = shutil.which(WSKDEPLOY)
    if program is None:
        raise CliError(
            "pwsk project runs wskdeploy, which is not on PATH; install it from "
            "https://github.com/apache/openwhisk-wskdeploy/releases",
            EXIT_GENERAL,
        )
    command = [program, *([subcommand] if subcommand else []), *args]
    st = state()
    given = set(args)
    # wskdeploy reads ~/.wskprops itself; forward only what pwsk's own flags overrode.
    for flags, value in (
        (("--apihost",), st.apihost),
        (("-u", "--auth"), st.auth),
        (("-c", "--cert"), st.cert),
        (("-k", "--key"), st.key),
    ):
        if value and not given.intersection(flags):
            command += [flags[-1], value]
    if st.verbose and not given.intersection(("-v", "--verbose")):
        command.append("--verbose")
    try:
        code = subprocess.run(command, check=False).returncode
    except OSError as exc:
        raise CliError(f"Unable to run {program}: {exc}") from None
    click.get_current_context().exit(code)


def _passthrough(name: str, subcommand: str | None, summary: str) -> click.Command:
    def run(args: tuple[str, ...]) -> None:
        _run(subcommand, args)

    run.__doc__ = f"""{summary}

    \b
      pwsk project {name} -m manifest.yaml [-d deployment.yaml]
    """
    command = click.command(name, context_settings=PASS_THROUGH, add_help_option=False)(
        click.argument("args", nargs=-1, type=click.UNPROCESSED)(run)
    )
    return command


def _builtin(name: str, remove: bool, summary: str) -> click.Command:
    """``project deploy|undeploy -m MANIFEST``, done by pwsk itself (``pwsk.deploy``)."""

    @click.command(name, help=f"""{summary}

    \b
      pwsk project {name} -m manifest.yaml
    """)
    @click.option("-m", "--manifest", "manifest", help="The manifest file.")
    def run(manifest: str | None) -> None:
        from .deploy import _run as deploy_run

        deploy_run(manifest, remove)

    return run


project.add_command(_builtin("deploy", False, "Deploy a project from its manifest."))
project.add_command(_builtin("undeploy", True, "Remove what a manifest deployed."))

for _name, _sub, _summary in (
    ("sync", "sync", "Deploy a manifest and remove what it no longer holds (wskdeploy sync)."),
    ("export", "export", "Export a deployed project to a manifest (wskdeploy export)."),
):
    project.add_command(_passthrough(_name, _sub, _summary))
