# Sourced by scripts: headless Chromium (Debian's package) and Playwright's Python package for
# the dashboard tests (tests/dashboard, marker `browser`). Idempotent; nothing is done when both
# are already there. Playwright never downloads a browser of its own here: the tests launch
# /usr/bin/chromium (override with PWSK_CHROMIUM).
#   source scripts/lib/browser.sh && pwsk_browser
set -euo pipefail
PWSK_PLAYWRIGHT_VERSION="${PWSK_PLAYWRIGHT_VERSION:-1.65.2}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

pwsk_browser() {
  local chromium="${PWSK_CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "pwsk: installing chromium (apt)" >&2
      apt-get update -qq >&2 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >&2
    else
      echo "pwsk: $chromium is missing; install Debian's chromium package" >&2
      return 1
    fi
  fi
  local python="${PWSK_VENV:+$PWSK_VENV/bin/}python"
  [ -x "${PWSK_VENV:-}/bin/python" ] || python="$(command -v python3)"
  if ! "$python" -c "import playwright" 2>/dev/null; then
    echo "pwsk: installing playwright==$PWSK_PLAYWRIGHT_VERSION (pip)" >&2
    "$python" -m pip install -q --disable-pip-version-check \
      "playwright==$PWSK_PLAYWRIGHT_VERSION" >&2
  fi
  export PWSK_CHROMIUM="$chromium"
}
