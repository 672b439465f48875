# Sourced by scripts: make sure the project's virtualenv exists and is current.
# The venv lives in a cache directory outside the repo (PWSK_CACHE, default ~/.cache/pwsk),
# and is re-synced only when pyproject.toml, the lock or this file change.
# Dependencies come from requirements/lock.txt (every package pwsk needs, and pip and
# setuptools, which build it) and requirements/test.txt (what the tests add), each pinned
# with its sha256 and installed with --require-hashes;
# pwsk itself is then installed (editable) with --no-deps and no build isolation, so nothing
# unhashed is fetched. The lock holds the wheels of CPython 3.11 on Linux x86_64; elsewhere
# the same versions are installed from the index without hashes (with a warning).
# `pwsk_lock` rewrites the locks after a change to pyproject.toml's dependencies.
set -euo pipefail
PWSK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_VENV="${PWSK_VENV:-$PWSK_CACHE/venv}"
PWSK_LOCK="$PWSK_ROOT/requirements/lock.txt"
PWSK_TEST_LOCK="$PWSK_ROOT/requirements/test.txt"
export PWSK_ROOT PWSK_CACHE PWSK_VENV PWSK_LOCK PWSK_TEST_LOCK

pwsk_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "pwsk needs Python 3.11 or newer" >&2; return 1
}

_pwsk_lock_fits() {  # python → true when the lock's wheels are for it
  "$1" -c 'import platform, sys
sys.exit(not (sys.version_info[:2] == (3, 11) and sys.platform == "linux"
              and platform.machine() == "x86_64"))'
}

pwsk_venv() {
  mkdir -p "$PWSK_CACHE"
  local stamp="$PWSK_VENV/.pwsk-stamp" want python pip
  want="$(cat "$PWSK_ROOT/pyproject.toml" "$PWSK_LOCK" "$PWSK_TEST_LOCK" \
              "$PWSK_ROOT/scripts/lib/venv.sh" |
          sha256sum | cut -c1-16)-$PWSK_ROOT"
  if [ ! -x "$PWSK_VENV/bin/python" ]; then
    "$(pwsk_python)" -m venv "$PWSK_VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "pwsk: installing Python dependencies into $PWSK_VENV" >&2
    python="$PWSK_VENV/bin/python"
    pip=("$python" -m pip install -q --disable-pip-version-check)
    if _pwsk_lock_fits "$python"; then
      "${pip[@]}" --require-hashes --only-binary=:all: -r "$PWSK_LOCK" -r "$PWSK_TEST_LOCK" >&2
    else
      echo "pwsk: $PWSK_LOCK is for CPython 3.11 on Linux x86_64: installing its" \
           "versions without hash checks" >&2
      "${pip[@]}" -r <(sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' "$PWSK_LOCK" \
                         "$PWSK_TEST_LOCK") >&2
    fi
    PYTHONWARNINGS=ignore "${pip[@]}" --no-deps --no-build-isolation -e "$PWSK_ROOT" >&2
    echo "$want" > "$stamp"
  fi
  export PATH="$PWSK_VENV/bin:$PATH"
}

# Rewrite the locks: pip resolves pwsk (plus pip and setuptools) into requirements/lock.txt,
# and pwsk[test] into requirements/test.txt (what lock.txt lacks), for this venv's Python,
# keeping the versions the venv has (PWSK_LOCK_UPGRADE=1: the newest ones); each wheel's
# sha256 is recorded as the index gives it. Needs a CPython 3.11 venv on Linux x86_64.
pwsk_lock() {
  local python="$PWSK_VENV/bin/python" work
  [ -x "$python" ] || pwsk_venv
  _pwsk_lock_fits "$python" || { echo "pwsk_lock needs CPython 3.11 on Linux x86_64" >&2; return 1; }
  work="$(mktemp -d)"
  if [ "${PWSK_LOCK_UPGRADE:-0}" = 1 ]; then : >"$work/constraints.txt"; else
    { "$python" -m pip freeze --exclude-editable --all | grep -v '^setuptools=='; } \
      >"$work/constraints.txt"
  fi
  _pwsk_lock_resolve "$python" "$work" "$PWSK_LOCK" /dev/null "$PWSK_ROOT"
  if [ "${PWSK_LOCK_UPGRADE:-0}" = 1 ]; then  # the tests get the versions lock.txt has
    sed -n 's/^\([a-z0-9._-]*==[^ ]*\).*/\1/p' "$PWSK_LOCK" >"$work/constraints.txt"
  fi
  _pwsk_lock_resolve "$python" "$work" "$PWSK_TEST_LOCK" "$PWSK_LOCK" "$PWSK_ROOT[test]"
  rm -rf "$work"
}

_pwsk_lock_resolve() {  # python work out exclude-lock project → writes out
  local python="$1" work="$2" out="$3" exclude="$4" target="$5"
  "$python" -m pip install -q --disable-pip-version-check --dry-run --ignore-installed \
    --only-binary=:all: --report "$work/report.json" -c "$work/constraints.txt" \
    "$target" pip "setuptools>=77" >&2
  "$python" - "$work/report.json" "$exclude" "$target" >"$out.tmp" <<'PY'
import json
import re
import sys

report, exclude, target = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3]
locked = {m.lower() for m in re.findall(r"^([A-Za-z0-9._-]+)==", exclude, re.M)}
what = ("what pwsk[test] needs beyond requirements/lock.txt" if target.endswith("[test]")
        else "every package pwsk needs, and pip and setuptools (they build pwsk)")
print(f"# {what[0].upper()}{what[1:]}, pinned with")
by = "scripts/lib/venv.sh" if target.endswith("[test]") else "venv.sh and compose/Dockerfile"
print("# the sha256 of its wheel for CPython 3.11 on Linux x86_64; installed with --require-hashes")
print(f"# by {by}. Generated by")
print("# `source scripts/lib/venv.sh && pwsk_lock` (after a change to pyproject.toml's")
print("# dependencies); do not edit by hand.")
rows = []
for item in report["install"]:
    meta, info = item["metadata"], item["download_info"]
    name = re.sub(r"[-_.]+", "-", meta["name"]).lower()
    if info["url"].startswith("file:") or name in locked:
        continue  # pwsk itself, or in the other lock
    digest = info.get("archive_info", {}).get("hashes", {}).get("sha256")
    if not digest:
        sys.exit(f"no sha256 for {meta['name']} {meta['version']} ({info['url']})")
    rows.append((name, meta["version"], digest))
for name, version, digest in sorted(rows):
    print(f"{name}=={version} \\\n    --hash=sha256:{digest}")
PY
  mv "$out.tmp" "$out"
  echo "pwsk: wrote $out ($(grep -c '^[a-z0-9]' "$out") packages)" >&2
}
