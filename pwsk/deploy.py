"""``pwsk deploy`` / ``pwsk undeploy``: a wskdeploy-style manifest, applied in place.

A manifest (YAML) describes one project: packages with their ``inputs`` (parameters),
``actions``, ``sequences``, ``triggers`` and ``rules``. Paths are relative to the manifest.
Deploying creates or updates everything (``overwrite``), so running it twice changes
nothing but versions; undeploying removes exactly what the manifest names, rules first.

Action fields: ``function`` (a ``.py``/``.js`` file, a directory or a zip, or an executable
with ``native: true``), ``runtime`` (kind; inferred from the extension), ``main``,
``include`` (files zipped beside a Python function, which becomes ``__main__.py``),
``inputs``, ``annotations``, ``limits``, ``web-export``/``web``, ``native``, ``docker``.
Input values may be ``${VAR}`` (environment) and ``{value: ..., init: true}`` for init-only
parameters, which reach the action as environment variables; ``secret: true`` marks a
parameter secret (shown redacted, masked in activation logs and results).
"""

from __future__ import annotations

import base64
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .client import Client, ClientError

Json = dict[str, Any]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
KINDS = {".py": "python:default", ".js": "nodejs:default"}
MANAGED = "whisk-managed"


class ManifestError(ValueError):
    """The manifest is not valid; the message names the place."""


@dataclass
class Plan:
    project: str
    packages: dict[str, Json] = field(default_factory=dict)  # name -> package body
    actions: dict[str, Json] = field(default_factory=dict)  # "pkg/name" -> action body
    triggers: dict[str, Json] = field(default_factory=dict)
    rules: dict[str, Json] = field(default_factory=dict)


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ManifestError(f"{where}: environment variable {name} is not set")
        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    return value


def _mapping(value: Any, where: str) -> Json:
    """``value`` as a mapping (``None`` is an empty one); anything else names its place."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be a mapping")
    return value


def _kv(mapping: Any, where: str) -> list[Json]:
    out = []
    for key, value in _mapping(mapping, where).items():
        value = _expand(value, f"{where}.{key}")
        if isinstance(value, dict) and set(value) <= {"value", "init", "secret", "type",
                                                      "description", "default"}:
            entry: Json = {"key": str(key), "value": value.get("value", value.get("default"))}
            if value.get("init"):
                entry["init"] = True
            if value.get("secret"):
                entry["secret"] = True
            out.append(entry)
        else:
            out.append({"key": str(key), "value": value})
    return out


def _zip(files: dict[str, bytes], executable: frozenset[str] = frozenset()) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if name in executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return base64.b64encode(buf.getvalue()).decode()


def _exec(spec: Json, base: Path, where: str) -> Json:
    if spec.get("docker") and not spec.get("native"):
        out: Json = {"kind": "blackbox", "image": str(spec["docker"])}
        if spec.get("function"):
            out["code"] = _exec({**spec, "native": True}, base, where)["code"]
        return out
    function = spec.get("function")
    if not isinstance(function, str):
        raise ManifestError(f"{where}: 'function' is required")
    path = (base / function).resolve()
    if not path.exists():
        raise ManifestError(f"{where}: {function} does not exist")
    if spec.get("native"):
        if path.suffix == ".zip":
            code = base64.b64encode(path.read_bytes()).decode()
        else:
            code = _zip({"exec": path.read_bytes()}, frozenset({"exec"}))
        return {"kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": code}
    kind = spec.get("runtime") or KINDS.get(path.suffix)
    if not kind:
        raise ManifestError(f"{where}: give a 'runtime' for {function}")
    out = {"kind": str(kind)}
    if spec.get("main"):
        out["main"] = str(spec["main"])
    includes = spec.get("include") or []
    if path.is_dir():
        files = {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
                 if p.is_file() and "__pycache__" not in p.parts}
        out["code"] = _zip(files)
    elif path.suffix == ".zip":
        out["code"] = base64.b64encode(path.read_bytes()).decode()
    elif includes:
        entry = "__main__.py" if str(kind).startswith("python") else "index.js"
        files = {entry: path.read_bytes()}
        for inc in includes:
            inc_path = (base / str(inc)).resolve()
            if not inc_path.is_file():
                raise ManifestError(f"{where}: include {inc} does not exist")
            files[inc_path.name] = inc_path.read_bytes()
        out["code"] = _zip(files)
    else:
        out["code"] = path.read_text()
    return out


def load(path: Path) -> Plan:
    """Read and validate a manifest into the entities to create."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: not UTF-8, a NUL
        raise ManifestError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: a manifest is a mapping")
    project = data.get("project", {})
    name = project.get("name") if isinstance(project, dict) else None
    plan = Plan(str(name or path.stem))
    packages = _mapping(data.get("packages"), "packages")
    base = path.parent
    managed = {"key": MANAGED, "value": {"projectName": plan.project, "file": path.name}}
    for pkg_name, pkg in packages.items():
        where = f"packages.{pkg_name}"
        pkg = _mapping(pkg, where)
        plan.packages[pkg_name] = {
            "parameters": _kv(pkg.get("inputs"), f"{where}.inputs"),
            "annotations": [*_kv(pkg.get("annotations"), f"{where}.annotations"), managed],
            "publish": bool(pkg.get("public", False)),
        }
        for act_name, act in _mapping(pkg.get("actions"), f"{where}.actions").items():
            aw = f"{where}.actions.{act_name}"
            act = _mapping(act, aw)
            annotations = [*_kv(act.get("annotations"), f"{aw}.annotations"), managed]
            web = act.get("web-export", act.get("web"))
            if web is not None:
                raw = str(web).lower() == "raw"
                on = raw or str(web).lower() in ("true", "yes")
                annotations += [{"key": "web-export", "value": on},
                                {"key": "raw-http", "value": raw},
                                {"key": "final", "value": on}]
            try:
                exec_ = _exec(act, base, aw)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                if isinstance(exc, ManifestError):
                    raise
                raise ManifestError(f"{aw}: {exc}") from None
            body: Json = {"exec": exec_,
                          "parameters": _kv(act.get("inputs"), f"{aw}.inputs"),
                          "annotations": annotations}
            if act.get("limits"):
                body["limits"] = dict(_mapping(act["limits"], f"{aw}.limits"))
            plan.actions[f"{pkg_name}/{act_name}"] = body
        for seq_name, seq in _mapping(pkg.get("sequences"), f"{where}.sequences").items():
            sw = f"{where}.sequences.{seq_name}"
            comps = _mapping(seq, sw).get("actions")
            if isinstance(comps, str):
                comps = [c.strip() for c in comps.split(",") if c.strip()]
            if not comps or not isinstance(comps, list) or not all(
                    isinstance(c, str) for c in comps):
                raise ManifestError(f"{sw}: 'actions' is required (names, or one string "
                                    "of names separated by commas)")
            plan.actions[f"{pkg_name}/{seq_name}"] = {
                "exec": {"kind": "sequence",
                         "components": [c if "/" in c else f"/_/{pkg_name}/{c}" for c in comps]},
                "annotations": [managed]}
        for trig_name, trig in _mapping(pkg.get("triggers"), f"{where}.triggers").items():
            tw = f"{where}.triggers.{trig_name}"
            trig = _mapping(trig, tw)
            plan.triggers[trig_name] = {
                "parameters": _kv(trig.get("inputs"), f"{tw}.inputs"),
                "annotations": [*_kv(trig.get("annotations"), f"{tw}.annotations"), managed]}
        for rule_name, rule in _mapping(pkg.get("rules"), f"{where}.rules").items():
            rw = f"{where}.rules.{rule_name}"
            if not isinstance(rule, dict) or "trigger" not in rule or "action" not in rule:
                raise ManifestError(f"{rw}: 'trigger' and 'action' are required")
            action = str(rule["action"])
            plan.rules[rule_name] = {
                "trigger": f"/_/{rule['trigger']}",
                "action": action if action.startswith("/") else f"/_/{pkg_name}/{action}",
                "annotations": [managed]}
    return plan


Report = Callable[[str], None]


def deploy(client: Client, plan: Plan, report: Report = print) -> None:
    """Create or update everything in ``plan``; rules last, so they find their ends."""
    for name, body in plan.packages.items():
        client.put_package(name, body, overwrite=True)
        report(f"ok: deployed package {name}")
    # Plain actions before sequences, which need their components to exist.
    ordered = sorted(plan.actions.items(), key=lambda kv: kv[1]["exec"]["kind"] == "sequence")
    for name, body in ordered:
        client.put_action(name, body, overwrite=True)
        report(f"ok: deployed action {name}")
    for name, body in plan.triggers.items():
        client.put_trigger(name, body, overwrite=True)
        report(f"ok: deployed trigger {name}")
    for name, body in plan.rules.items():
        client.put_rule(name, body, overwrite=True)
        client.enable_rule(name)
        report(f"ok: deployed rule {name}")


def undeploy(client: Client, plan: Plan, report: Report = print) -> None:
    """Delete what ``plan`` names; missing entities are fine (already gone)."""
    steps: list[tuple[str, list[str], Callable[[str], Any]]] = [
        ("rule", list(plan.rules), client.delete_rule),
        ("trigger", list(plan.triggers), client.delete_trigger),
        ("action", sorted(plan.actions, key=lambda n: plan.actions[n]["exec"]["kind"]
                          != "sequence"), client.delete_action),
        ("package", list(plan.packages), client.delete_package),
    ]
    for what, names, delete in steps:
        for name in names:
            try:
                delete(name)
                report(f"ok: undeployed {what} {name}")
            except ClientError as exc:
                if exc.status != 404:
                    raise
