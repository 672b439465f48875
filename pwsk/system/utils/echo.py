"""Returns its input: the parameters it was invoked with."""

from __future__ import annotations

from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    return params
