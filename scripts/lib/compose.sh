# Provision Docker Compose v2 and the pwsk services image for tests/compose (idempotent,
# cached under $PWSK_CACHE/compose, never in the repo).
#   bash scripts/lib/compose.sh     # or: source it and call pwsk_compose
#   bash scripts/lib/compose.sh bin     # Compose alone (no engine, no image)
#   bash scripts/lib/compose.sh plugin  # and link it as the `docker compose` CLI plugin
# stdout: `compose <path of the binary>` and `image <tag of the pwsk image>` (tests read it);
# progress goes to stderr.
# 1. Compose v2 (the file uses `name:` and `!reset`, which Debian's docker-compose 1.29 does
#    not know; Debian 12 packages no v2) is built once from the Go module proxy (~4 min) as
#    $PWSK_CACHE/compose/docker-compose-<version>, a standalone binary.
# 2. The image is built from compose/Dockerfile with BASE = the local mmdebstrap base of
#    scripts/lib/docker.sh (no registry is reachable). That base has Python but no pip, and
#    builds get no index, so the context is staged under the cache with a wheels/ directory
#    made by `pip download --require-hashes` on the host from requirements/lock.txt (pip's own
#    wheel, setuptools and the dependencies; the build checks their hashes again). The image
#    carries the hash of its inputs (sources, Dockerfile, base image, lock) in the label
#    pwsk.inputs and is rebuilt only when that changes.
set -euo pipefail
PWSK_ROOT="${PWSK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_COMPOSE_VERSION="2.40.3"
PWSK_COMPOSE_DIR="$PWSK_CACHE/compose"
PWSK_COMPOSE_BIN="$PWSK_COMPOSE_DIR/docker-compose-$PWSK_COMPOSE_VERSION"
PWSK_SERVICES_IMAGE="${PWSK_SERVICES_IMAGE:-pwsk/services:local}"
export PWSK_ROOT PWSK_CACHE
# shellcheck source=docker.sh
source "$PWSK_ROOT/scripts/lib/docker.sh"

_pwsk_compose_say() { echo "pwsk compose: $*" >&2; }

_pwsk_compose_install() {
  [ -x "$PWSK_COMPOSE_BIN" ] && return 0
  command -v go >/dev/null || { _pwsk_compose_say "Go is required to build Compose"; return 1; }
  local src="$PWSK_COMPOSE_DIR/src-$PWSK_COMPOSE_VERSION" mod
  _pwsk_compose_say "building Compose $PWSK_COMPOSE_VERSION from the Go module proxy (once, ~4 min)"
  mkdir -p "$PWSK_COMPOSE_DIR"
  mod="$(go mod download -json "github.com/docker/compose/v2@v$PWSK_COMPOSE_VERSION" |
         sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$mod" ] || { _pwsk_compose_say "go mod download gave no module directory"; return 1; }
  # Its go.mod has exclude directives, which `go install pkg@version` refuses: build in a
  # writable copy of the module instead (the module cache is read-only).
  rm -rf "$src" && cp -r "$mod" "$src" && chmod -R u+w "$src"
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath \
     -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=v$PWSK_COMPOSE_VERSION" \
     -o "$PWSK_COMPOSE_BIN.tmp" ./cmd >&2)
  mv "$PWSK_COMPOSE_BIN.tmp" "$PWSK_COMPOSE_BIN"
  rm -rf "$src"
  _pwsk_compose_say "built $PWSK_COMPOSE_BIN"
}

_pwsk_compose_sources() {  # the files compose/Dockerfile copies (tracked or new, not ignored)
  local paths
  # Every COPY source but the optional wheel[s] the staged context adds.
  paths="$(sed -n 's/^COPY \(.*\) [^ ]*$/\1/p' "$PWSK_ROOT/compose/Dockerfile" |
           tr ' ' '\n' | grep -v '\[' | LC_ALL=C sort -u)"
  # shellcheck disable=SC2086
  (cd "$PWSK_ROOT" && git ls-files --cached --others --exclude-standard -- $paths |
     while read -r f; do [ -f "$f" ] && echo "$f"; done | LC_ALL=C sort -u)
}

_pwsk_compose_wheels() {  # wheels dir → fills it with requirements/lock.txt's wheels
  local dest="$1" python="${PWSK_VENV:-$PWSK_CACHE/venv}/bin/python"
  [ -x "$python" ] || python="python3"
  mkdir -p "$dest"
  _pwsk_compose_say "downloading wheels for the image (pip download, hashes checked)"
  "$python" -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps \
    --require-hashes -r "$PWSK_ROOT/requirements/lock.txt" -d "$dest" \
    >"$PWSK_COMPOSE_DIR/pip.log" 2>&1 || { tail -n 30 "$PWSK_COMPOSE_DIR/pip.log" >&2; return 1; }
}

_pwsk_compose_image() {
  local base="$PWSK_BASE_IMAGE" context="$PWSK_COMPOSE_DIR/context" want files log
  local wheels="$PWSK_COMPOSE_DIR/wheels" key
  # The wheels are kept between builds while the lock stays the same.
  key="$(sha256sum "$PWSK_ROOT/requirements/lock.txt" | cut -c1-16)"
  files="$(_pwsk_compose_sources)"
  want="$({ _pwsk_image_id "$base"; echo "$PWSK_SERVICES_IMAGE $key";
            (cd "$PWSK_ROOT" && echo "$files" | xargs sha256sum compose/Dockerfile); } |
          sha256sum | cut -c1-16)"
  [ "$(_pwsk_image_label "$PWSK_SERVICES_IMAGE" pwsk.inputs)" = "$want" ] && return 0
  rm -rf "$context" && mkdir -p "$context/compose"
  (cd "$PWSK_ROOT" && echo "$files" | xargs cp --parents -p -t "$context")
  cp -p "$PWSK_ROOT/compose/Dockerfile" "$context/compose/Dockerfile"
  if [ "$(cat "$wheels/.key" 2>/dev/null)" != "$key" ]; then
    rm -rf "$wheels" && _pwsk_compose_wheels "$wheels" && echo "$key" >"$wheels/.key"
  fi
  mkdir -p "$context/wheels" && cp -p "$wheels"/*.whl "$context/wheels/"
  _pwsk_compose_say "building $PWSK_SERVICES_IMAGE from compose/Dockerfile (BASE=$base)"
  log="$(DOCKER_BUILDKIT=0 docker build -q -f "$context/compose/Dockerfile" \
           --build-arg "BASE=$base" --label "pwsk.inputs=$want" \
           -t "$PWSK_SERVICES_IMAGE" "$context" 2>&1)" || { echo "$log" >&2; return 1; }
  # The image it replaced is now untagged: drop those of ours.
  docker image prune -f --filter label=pwsk.inputs >/dev/null
}

pwsk_compose() {
  pwsk_docker
  _pwsk_compose_install
  _pwsk_compose_image
  echo "compose $PWSK_COMPOSE_BIN"
  echo "image $PWSK_SERVICES_IMAGE"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # One provisioning at a time (two test runs would share the staged context).
  mkdir -p "$PWSK_COMPOSE_DIR" && exec 9>"$PWSK_COMPOSE_DIR/.lock" && flock 9
  case "${1:-}" in
    bin) _pwsk_compose_install && echo "compose $PWSK_COMPOSE_BIN" ;;
    plugin)  # also as `docker compose`, for developers (the tests use the binary itself)
      _pwsk_compose_install
      mkdir -p "$HOME/.docker/cli-plugins"
      ln -sf "$PWSK_COMPOSE_BIN" "$HOME/.docker/cli-plugins/docker-compose"
      docker compose version ;;
    *) pwsk_compose ;;
  esac
fi
