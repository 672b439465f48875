"""Property-based fuzzing of the manifest loader (``pwsk deploy``): any file is either a plan
or a ``ManifestError`` that names the place, never another exception (which the CLI would
show as a traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pwsk.deploy import ManifestError, Plan, load
from tests.reliability.conftest import FIGURES

FUZZ = settings(max_examples=250, deadline=None, database=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))
KEYS = ["project", "name", "packages", "p0", "actions", "a0", "function", "runtime", "main",
        "include", "inputs", "annotations", "limits", "web-export", "web", "native", "docker",
        "sequences", "triggers", "rules", "trigger", "action", "value", "init", "public",
        "timeout"]
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["code.py", "code.js", "blob.bin", "dir", "missing.py", "../code.py",
                     "/dev/null", "python:3.11", "raw", "true", "a0", "p0/a0", "/guest/a0",
                     "${HOME}", "${NOPE_NOT_SET}", "${NOPE:-x}", "a0, a1", "nul\u0000"]))
TREE = st.recursive(SCALAR, lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.sampled_from(KEYS) | SCALAR.map(str), kids,
                                      max_size=4), max_leaves=25)
MANIFEST = st.fixed_dictionaries({}, optional={
    "project": TREE,
    "packages": st.dictionaries(st.sampled_from(["p0", "p1"]) | SCALAR.map(str), st.one_of(
        TREE, st.fixed_dictionaries({}, optional={k: TREE for k in (
            "actions", "sequences", "triggers", "rules", "inputs", "annotations", "public")}),
    ), max_size=2)})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("manifest")
    (base / "code.py").write_text("def main(args):\n    return args\n")
    (base / "code.js").write_text("function main(args) { return args }\n")
    (base / "blob.bin").write_bytes(bytes(range(256)))
    (base / "dir").mkdir()
    (base / "dir" / "__main__.py").write_text("def main(args):\n    return args\n")
    return base


def _load(path: Path) -> None:
    FIGURES["manifests fuzzed"] += 1
    try:
        plan = load(path)
    except ManifestError as exc:
        assert str(exc).strip()
        return
    assert isinstance(plan, Plan)


@FUZZ
@given(manifest=MANIFEST)
def test_any_manifest_is_a_plan_or_a_manifest_error(base: Path, manifest: dict[str, Any]) -> None:
    path = base / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    _load(path)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                     st.sampled_from([b"- a\n- b\n", b"packages: [1, 2]\n", b"a: &x [*x]\n",
                                      b"packages:\n  p0: 3\n", b"\xff\xfe", b"{{{"])))
def test_any_file_is_a_plan_or_a_manifest_error(base: Path, raw: bytes) -> None:
    path = base / "raw.yaml"
    path.write_bytes(raw)
    _load(path)
