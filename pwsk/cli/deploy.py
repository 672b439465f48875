"""``pwsk deploy`` / ``pwsk undeploy``: apply or remove a wskdeploy-style manifest.

The manifest format and what deploying does are described in ``pwsk.deploy``.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import CliError, failing, ok, state

DEFAULT_MANIFESTS = ("manifest.yaml", "manifest.yml")


def _manifest(path: str | None) -> Path:
    if path:
        return Path(path)
    for name in DEFAULT_MANIFESTS:
        if Path(name).is_file():
            return Path(name)
    raise CliError("No manifest given and no manifest.yaml in the current directory.",
                   usage=True)


def _run(path: str | None, remove: bool) -> None:
    from pwsk.deploy import ManifestError, deploy, load, undeploy

    manifest = _manifest(path)
    try:
        plan = load(manifest)
    except ManifestError as exc:
        raise CliError(f"Invalid manifest: {exc}") from None
    verb = "undeploy" if remove else "deploy"
    with failing(f"{verb} project '{plan.project}'"):
        (undeploy if remove else deploy)(state().client(), plan, report=click.echo)
    ok(f"{verb}ed project {plan.project}")


@click.command("deploy")
@click.argument("manifest", required=False)
def deploy_command(manifest: str | None) -> None:
    """Create or update everything a manifest describes (in place).

    \b
      pwsk deploy functions/brewery/manifest.yaml
      TELEGRAM_TOKEN=... pwsk deploy manifest.yaml
    """
    _run(manifest, remove=False)


@click.command("undeploy")
@click.argument("manifest", required=False)
def undeploy_command(manifest: str | None) -> None:
    """Delete what a manifest describes (rules, triggers, actions, packages).

    \b
      pwsk undeploy functions/brewery/manifest.yaml
    """
    _run(manifest, remove=True)
