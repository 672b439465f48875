"""requirements/{lock,test}.txt: every dependency pinned with a hash, and exactly pwsk's.

lock.txt (what pwsk needs, which the image installs too) and test.txt (what its tests add)
are what scripts/lib/venv.sh installs with ``--require-hashes``; these tests parse them
and pyproject.toml and walk the installed packages' own requirements (markers evaluated as
for this interpreter), so a dependency added to pyproject.toml without re-locking fails here.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
BUILD_TOOLS = {"pip", "setuptools"}


def parse_lock(text: str) -> dict[str, tuple[str, list[str]]]:
    """``{name: (version, [sha256, ...])}``; raises on anything but pinned, hashed lines."""
    out: dict[str, tuple[str, list[str]]] = {}
    logical = re.sub(r"\\\n", " ", text)
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", spec)
        assert m, f"not pinned with ==: {line!r}"
        hashes = []
        for option in options:
            h = re.fullmatch(r"--hash=sha256:([0-9a-f]{64})", option)
            assert h, f"unexpected option {option!r} in {line!r}"
            hashes.append(h.group(1))
        assert hashes, f"{spec} has no hash"
        name = canonicalize_name(m.group(1))
        assert name not in out, f"{name} is locked twice"
        out[name] = (m.group(2), hashes)
    return out


def project() -> dict[str, list[Requirement]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": [Requirement(r) for r in data["dependencies"]],
            **{extra: [Requirement(r) for r in reqs]
               for extra, reqs in data["optional-dependencies"].items()}}


def closure(roots: list[Requirement]) -> set[str]:
    """The names of every distribution ``roots`` need here, through installed metadata."""
    seen: set[str] = set()
    walked: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, frozenset(r.extras)) for r in roots]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in walked:
            continue
        walked.add((name, extras))
        seen.add(name)
        for raw in metadata.requires(req.name) or []:
            dep = Requirement(raw)
            wanted = dep.marker is None or any(
                dep.marker.evaluate({"extra": e}) for e in (extras or {""}))
            if wanted:
                todo.append((dep, frozenset(dep.extras)))
    return seen


def test_every_requirement_is_pinned_with_a_hash() -> None:
    lock, test = parse_lock(LOCK.read_text()), parse_lock(TEST_LOCK.read_text())
    assert len(lock) > 30 and set(lock) >= BUILD_TOOLS and len(test) > 10
    assert not set(lock) & set(test), "a package in both locks"


def test_the_parser_refuses_what_pip_would_not_check() -> None:
    good = "a==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    assert parse_lock(good) == {"a": ("1.0", ["0" * 64])}
    for bad in ("a==1.0\n", "a>=1.0 --hash=sha256:" + "0" * 64, "a==1.0 --hash=md5:00",
                "-e . --hash=sha256:" + "0" * 64, good + good):
        try:
            parse_lock(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_the_locks_satisfy_pyproject() -> None:
    lock, test = parse_lock(LOCK.read_text()), parse_lock(TEST_LOCK.read_text())
    for group, reqs in project().items():
        for req in reqs:
            name = canonicalize_name(req.name)
            pinned = lock.get(name) or test.get(name)
            assert pinned, f"{req} ({group or 'dependencies'}) is not locked"
            assert req.specifier.contains(pinned[0], prereleases=True), \
                f"{req} but the lock has {pinned[0]}"
            if not group:  # the image installs lock.txt only
                assert name in lock, f"{req} is in test.txt"
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for raw in build:
        req = Requirement(raw)
        assert req.specifier.contains(lock[canonicalize_name(req.name)][0]), raw


def test_the_locks_are_the_whole_tree_and_nothing_else() -> None:
    lock, test = parse_lock(LOCK.read_text()), parse_lock(TEST_LOCK.read_text())
    reqs = project()
    runtime = closure(reqs[""])
    everything = closure(reqs[""] + reqs["test"])
    assert runtime - set(lock) == set(), "pwsk needs but lock.txt lacks (run pwsk_lock)"
    assert set(lock) - runtime - BUILD_TOOLS == set(), "locked but not needed (pwsk_lock)"
    assert set(test) == everything - set(lock), "test.txt is stale (run pwsk_lock)"
    # The venv the tests run in was installed from the locks.
    for name in everything:
        assert metadata.version(name) == {**lock, **test}[name][0], name


def test_the_venv_is_installed_from_the_lock_with_hashes() -> None:
    script = (ROOT / "scripts" / "lib" / "venv.sh").read_text()
    assert '--require-hashes --only-binary=:all: -r "$PWSK_LOCK" -r "$PWSK_TEST_LOCK"' in script
    assert '--no-deps --no-build-isolation -e "$PWSK_ROOT"' in script
    assert 'PWSK_LOCK="$PWSK_ROOT/requirements/lock.txt"' in script
    # A change to the lock rebuilds the venv: the stamp hashes it.
    stamp = re.search(r'want="\$\(cat ([^|]+)\|', script)
    assert stamp and "pyproject.toml" in stamp.group(1)
    assert '"$PWSK_LOCK"' in stamp.group(1) and '"$PWSK_TEST_LOCK"' in stamp.group(1)
    assert not re.search(r"pip install[^\n]*-e \"\$PWSK_ROOT\[", script)  # no unhashed extras
