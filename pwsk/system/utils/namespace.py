"""The namespace of the key this action was invoked with."""

from __future__ import annotations

import os
from typing import Any


def main(params: dict[str, Any]) -> dict[str, Any]:
    return {"namespace": os.environ.get("__OW_NAMESPACE", "")}
