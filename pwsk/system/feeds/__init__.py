"""``/whisk.system/alarms``: the alarms feed, as apache/openwhisk-package-alarms offers it.

Three feed actions share one module (``alarm.py``): ``alarm`` (a ``cron`` schedule),
``interval`` (every ``minutes``) and ``once`` (at ``date``). They only forward the lifecycle
event to the alarms provider (``pwsk.system.alarms``), whose address the package carries as
its ``package_endpoint`` parameter; ``final`` keeps callers from pointing it elsewhere.
"""

from __future__ import annotations

from ..catalog import ActionSpec, PackageSpec, kv_list, source

_WINDOW = [{"name": "startDate", "required": False,
            "description": "When to start firing (ISO 8601 or epoch ms, UTC)"},
           {"name": "stopDate", "required": False,
            "description": "When to stop firing (ISO 8601 or epoch ms, UTC)"}]
_PAYLOAD = {"name": "trigger_payload", "required": False,
            "description": "The payload of every fire (an object, or a string s for "
                           "{\"payload\": s})"}


def package(endpoint: str) -> PackageSpec:
    code = source(__name__, "alarm")

    def feed(name: str, description: str, parameters: list[dict[str, object]],
             sample: dict[str, object]) -> ActionSpec:
        return ActionSpec(name, code, main=name, annotations=kv_list(
            feed=True, final=True, description=description,
            parameters=[*parameters, _PAYLOAD], sampleInput=sample))

    return PackageSpec("alarms", annotations=kv_list(
        description="Alarms and periodic utility",
        parameters=[{"name": "trigger_payload", "required": False}],
    ), parameters=[{"key": "package_endpoint", "value": endpoint}], actions=(
        feed("alarm", "Fire trigger when alarm occurs", [
            {"name": "cron", "required": True,
             "description": "A cron expression in UTC: 5 fields, or 6 with seconds first"},
            *_WINDOW,
            {"name": "maxTriggers", "required": False,
             "description": "Stop after this many fires (-1: no limit)"},
        ], {"cron": "*/10 * * * *", "trigger_payload": {"name": "Odin"}}),
        feed("interval", "Fire trigger at specified interval", [
            {"name": "minutes", "required": True,
             "description": "The number of minutes between fires"},
            *_WINDOW,
        ], {"minutes": 15}),
        feed("once", "Fire trigger once when alarm occurs", [
            {"name": "date", "required": True,
             "description": "When to fire (ISO 8601 or epoch ms, UTC)"},
            {"name": "deleteAfterFire", "required": False,
             "description": "false (default), true (delete the trigger) or rules (and its "
                            "rules)"},
        ], {"date": "2030-01-01T00:00:00.000Z"}),
    ))
