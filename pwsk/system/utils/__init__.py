"""``/whisk.system/utils``: building blocks that format and assemble data.

The actions of OpenWhisk's catalog package of the same name, in Python. Each one is a
module of this package, installed as the source of a ``python:3.11`` action, so they use the
standard library only. The annotations are the catalog's documentation: ``description``,
``parameters``, ``sampleInput``, ``sampleOutput``.
"""

from __future__ import annotations

from ..catalog import ActionSpec, PackageSpec, kv_list, source


def _action(name: str, description: str, **docs: object) -> ActionSpec:
    return ActionSpec(name, source(__name__, name), kv_list(description=description, **docs))


def package() -> PackageSpec:
    lines_param = {"name": "lines", "required": True, "type": "array",
                   "description": "An array of strings or numbers"}
    return PackageSpec("utils", annotations=kv_list(
        description="Building blocks that format and assemble data"), actions=(
        _action("echo", "Returns the input",
                parameters=[{"name": "payload", "required": False,
                             "description": "Any JSON entity"}],
                sampleInput={"payload": "Five fuzzy felines"},
                sampleOutput={"payload": "Five fuzzy felines"}),
        _action("cat", "Concatenates input into a string",
                parameters=[lines_param],
                sampleInput={"lines": [4, 2, 3]},
                sampleOutput={"lines": [4, 2, 3], "payload": "4\n2\n3"}),
        _action("sort", "Sorts an array",
                parameters=[lines_param],
                sampleInput={"lines": [4, 2, 3]},
                sampleOutput={"lines": [2, 3, 4], "length": 3}),
        _action("split", "Split a string into an array",
                parameters=[{"name": "payload", "required": True, "description": "A string"},
                            {"name": "separator", "required": False,
                             "description": "The string to split at (default: line breaks)"}],
                sampleInput={"payload": "one,two,three", "separator": ","},
                sampleOutput={"lines": ["one", "two", "three"], "payload": "one,two,three"}),
        _action("head", "Extract prefix of an array",
                parameters=[lines_param,
                            {"name": "num", "required": False, "type": "integer",
                             "description": "The length of the prefix (default 1)"}],
                sampleInput={"lines": [4, 2, 3], "num": 2},
                sampleOutput={"lines": [4, 2], "num": 2}),
        _action("smash", "Nests all properties under given property",
                parameters=[{"name": "$fieldName", "required": True, "type": "string",
                             "description": "Name of property to nest object under"}],
                sampleInput={"a": 1, "b": {"c": 2}, "$fieldName": "p"},
                sampleOutput={"p": {"a": 1, "b": {"c": 2}}}),
        _action("date", "Current date and time",
                sampleOutput={"date": "2016-03-22T00:59:55.961Z"}),
        _action("namespace",
                "Returns namespace for the authorization key used to invoke this action",
                sampleOutput={"namespace": "guest"}),
        _action("hosturl", "Returns the URL to activate an action or trigger",
                parameters=[
                    {"name": "web", "type": "boolean", "description": "True for web actions"},
                    {"name": "ext", "type": "string",
                     "description": "Extension for web action, one of .html, .http, .json, "
                                    ".text"},
                    {"name": "trigger", "type": "boolean",
                     "description": "True to construct path for trigger instead of action."},
                    {"name": "path", "type": "string",
                     "description": "The action name as just <action name> or "
                                    "<package name>/<action name>."}],
                sampleInput={"web": True, "path": "utils/echo"},
                sampleOutput={"url": "http://127.0.0.1:3233/api/v1/web/guest/utils/echo.json"}),
    ))
