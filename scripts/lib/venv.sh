# Sourced by scripts: make sure the project's virtualenv exists and is current.
# The venv lives in a cache directory outside the repo (PWSK_CACHE, default ~/.cache/pwsk),
# and is re-synced only when pyproject.toml changes.
set -euo pipefail
PWSK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_VENV="${PWSK_VENV:-$PWSK_CACHE/venv}"
export PWSK_ROOT PWSK_CACHE PWSK_VENV

pwsk_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "pwsk needs Python 3.11 or newer" >&2; return 1
}

pwsk_venv() {
  mkdir -p "$PWSK_CACHE"
  local stamp="$PWSK_VENV/.pwsk-stamp" want
  want="$(cat "$PWSK_ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$PWSK_ROOT"
  if [ ! -x "$PWSK_VENV/bin/python" ]; then
    "$(pwsk_python)" -m venv "$PWSK_VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "pwsk: installing Python dependencies into $PWSK_VENV" >&2
    "$PWSK_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$PWSK_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$PWSK_ROOT[test]" >&2
    echo "$want" > "$stamp"
  fi
  export PATH="$PWSK_VENV/bin:$PATH"
}
