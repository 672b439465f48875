# Sourced by scripts: make sure a CouchDB-compatible server is installed for the store tests.
# No CouchDB package installs on the development machines or CI, so the tests run the CouchDB
# store against npm's pouchdb-server (the CouchDB HTTP API on PouchDB, `--in-memory`); the
# distributed stack (docker-compose) uses real CouchDB 3. It lives in $PWSK_CACHE/pouchdb,
# next to the venv, and is reinstalled only when the pin below changes. Tests find it at
#   $PWSK_CACHE/pouchdb/node_modules/.bin/pouchdb-server
# (tests/store/couch.py computes the same path).
set -euo pipefail
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_POUCHDB="$PWSK_CACHE/pouchdb"
# Bump deliberately and rerun tests/core/test_store.py and tests/store.
PWSK_POUCHDB_PACKAGE="pouchdb-server@4.2.0"
export PWSK_CACHE PWSK_POUCHDB PWSK_POUCHDB_PACKAGE

pwsk_couchdb() {
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "pwsk: node (>= 20) and npm are required to install $PWSK_POUCHDB_PACKAGE" >&2
    return 1
  }
  local stamp="$PWSK_POUCHDB/.pwsk-stamp"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$PWSK_POUCHDB_PACKAGE" ] ||
     [ ! -x "$PWSK_POUCHDB/node_modules/.bin/pouchdb-server" ]; then
    echo "pwsk: installing $PWSK_POUCHDB_PACKAGE into $PWSK_POUCHDB" >&2
    mkdir -p "$PWSK_POUCHDB"
    # A package.json of our own keeps npm from walking up into some parent project.
    [ -f "$PWSK_POUCHDB/package.json" ] ||
      echo '{"name": "pwsk-pouchdb-cache", "private": true}' > "$PWSK_POUCHDB/package.json"
    npm install --prefix "$PWSK_POUCHDB" --save-exact --no-audit --no-fund --loglevel=error \
      "$PWSK_POUCHDB_PACKAGE" >&2
    echo "$PWSK_POUCHDB_PACKAGE" > "$stamp"
  fi
}
