# Sourced by scripts: make sure the npm packages the compatibility tests drive are installed.
# They live in a cache directory outside the repo ($PWSK_CACHE/node, next to the venv) and are
# reinstalled only when the pinned versions below change. Tests find them through
#   NODE_PATH=$PWSK_CACHE/node/node_modules
# (tests/compat/conftest.py computes the same path).
set -euo pipefail
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_NODE="$PWSK_CACHE/node"
# OpenWhisk's official JavaScript client; bump deliberately and rerun tests/compat.
PWSK_NPM_PACKAGES="openwhisk@3.21.9"
export PWSK_CACHE PWSK_NODE PWSK_NPM_PACKAGES

pwsk_node() {
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "pwsk: node (>= 20) and npm are required (nodejs runtime, tests/compat)" >&2
    return 1
  }
  local stamp="$PWSK_NODE/.pwsk-stamp"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$PWSK_NPM_PACKAGES" ] ||
     [ ! -f "$PWSK_NODE/node_modules/openwhisk/package.json" ]; then
    echo "pwsk: installing npm packages ($PWSK_NPM_PACKAGES) into $PWSK_NODE" >&2
    mkdir -p "$PWSK_NODE"
    # A package.json of our own keeps npm from walking up into some parent project.
    [ -f "$PWSK_NODE/package.json" ] ||
      echo '{"name": "pwsk-node-cache", "private": true}' > "$PWSK_NODE/package.json"
    # shellcheck disable=SC2086  # the list is space-separated on purpose
    npm install --prefix "$PWSK_NODE" --save-exact --no-audit --no-fund --loglevel=error \
      $PWSK_NPM_PACKAGES >&2
    echo "$PWSK_NPM_PACKAGES" > "$stamp"
  fi
  export NODE_PATH="$PWSK_NODE/node_modules${NODE_PATH:+:$NODE_PATH}"
}
