# Provision Docker for the docker container backend and its tests (idempotent, cached).
#   bash scripts/lib/docker.sh          # or: source it and call pwsk_docker
# 1. installs docker.io and mmdebstrap from Debian's packages when missing;
# 2. starts dockerd when no engine answers (log: $PWSK_CACHE/dockerd.log);
# 3. builds the Debian base image from a cached mmdebstrap tarball: no registry is needed;
# 4. builds the runtime images from runtimes/*/Dockerfile when missing or when their inputs
#    (Dockerfile, proxy, base image) changed: each image carries the hash of its inputs in the
#    label pwsk.inputs.
# The nodejs base is the Debian base plus the host's own `node` binary (the one the process
# backend runs), so kind nodejs:20 runs Node 20 in both backends; Debian bookworm ships 18.
# Everything cached lives under $PWSK_CACHE/docker, never in the repo.
set -euo pipefail
PWSK_ROOT="${PWSK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_DOCKER_CACHE="$PWSK_CACHE/docker"
PWSK_BASE_IMAGE="pwsk/base-debian:bookworm"
export PWSK_ROOT PWSK_CACHE

_pwsk_say() { echo "pwsk docker: $*" >&2; }

_pwsk_docker_install() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { _pwsk_say "need root to install ${missing[*]}"; return 1; }
  _pwsk_say "installing ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
}

_pwsk_docker_daemon() {
  docker info >/dev/null 2>&1 && return 0
  mkdir -p "$PWSK_CACHE"
  _pwsk_say "starting dockerd (log: $PWSK_CACHE/dockerd.log)"
  # Its own session, so it outlives this script and the shell that ran it.
  setsid dockerd >>"$PWSK_CACHE/dockerd.log" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  _pwsk_say "dockerd did not come up; last lines of its log:"
  tail -n 20 "$PWSK_CACHE/dockerd.log" >&2
  return 1
}

_pwsk_image_label() {  # image label → the label's value, or nothing if no such image
  docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

_pwsk_image_id() {
  docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
}

_pwsk_docker_base() {
  [ -n "$(_pwsk_image_id "$PWSK_BASE_IMAGE")" ] && return 0
  local tarball="$PWSK_DOCKER_CACHE/bookworm-minbase-python3.tar"
  mkdir -p "$PWSK_DOCKER_CACHE"
  if [ ! -s "$tarball" ]; then
    _pwsk_say "building the Debian base with mmdebstrap (once; cached in $tarball)"
    mmdebstrap --quiet --variant=minbase --include=python3,ca-certificates bookworm \
      "$tarball.tmp.tar" >&2
    mv "$tarball.tmp.tar" "$tarball"
  fi
  _pwsk_say "importing $PWSK_BASE_IMAGE"
  docker import "$tarball" "$PWSK_BASE_IMAGE" >/dev/null
}

_pwsk_build() {  # image context BASE inputs-hash: builds unless the image has that hash
  local image="$1" context="$2" base="$3" want="$4" log
  [ "$(_pwsk_image_label "$image" pwsk.inputs)" = "$want" ] && return 0
  _pwsk_say "building $image"
  log="$(DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$base" \
           --label "pwsk.inputs=$want" -t "$image" "$context" 2>&1)" ||
    { echo "$log" >&2; return 1; }
  # The image it replaced is now untagged: drop those of ours.
  docker image prune -f --filter label=pwsk.inputs >/dev/null
}

_pwsk_docker_runtime() {  # image runtimes/<family> BASE
  local image="$1" source="$2" base="$3" want files
  # The inputs are the directory's visible files (not the caches a linter leaves behind)
  # and the base image; the build context is a copy of just those files.
  files="$(find "$source" -maxdepth 1 -type f ! -name '.*' -printf '%f\n' | LC_ALL=C sort)"
  want="$({ _pwsk_image_id "$base"; (cd "$source" && echo "$files" | xargs sha256sum); } |
          sha256sum | cut -c1-16)"
  [ "$(_pwsk_image_label "$image" pwsk.inputs)" = "$want" ] && return 0
  local staged="$PWSK_DOCKER_CACHE/context/${image//[\/:]/_}"
  rm -rf "$staged" && mkdir -p "$staged"
  (cd "$source" && echo "$files" | xargs cp -p -t "$staged")
  _pwsk_build "$image" "$staged" "$base" "$want"
}

_pwsk_docker_node_base() {  # → the name of the nodejs base image, on stdout
  local node version stamp context="$PWSK_DOCKER_CACHE/node-context"
  node="$(command -v node)" || { _pwsk_say "node (>= 20) is required for the nodejs image"; return 1; }
  node="$(readlink -f "$node")"
  version="$("$node" --version)"
  stamp="$version-$(stat -c '%s-%Y' "$node")"
  # The binary is ~100 MB: stage it again only when it is another one, and hash its identity
  # (version, size, mtime) rather than its bytes, to stay fast when nothing changed.
  if [ "$(cat "$context/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$context" && mkdir -p "$context"
    cp "$node" "$context/node"
    printf '%s\n' 'ARG BASE' 'FROM ${BASE}' 'COPY node /usr/local/bin/node' \
      'RUN ["/usr/local/bin/node", "--version"]' > "$context/Dockerfile"
    echo "$stamp" > "$context/stamp"
  fi
  local image="pwsk/base-node:${version#v}"
  _pwsk_build "$image" "$context" "$PWSK_BASE_IMAGE" \
    "$(echo "$stamp $(_pwsk_image_id "$PWSK_BASE_IMAGE")" | sha256sum | cut -c1-16)"
  echo "$image"
}

pwsk_docker() {
  _pwsk_docker_install
  _pwsk_docker_daemon
  _pwsk_docker_base
  local node_base
  node_base="$(_pwsk_docker_node_base)"
  _pwsk_docker_runtime pwsk/action-python:3.11 "$PWSK_ROOT/runtimes/python" "$PWSK_BASE_IMAGE"
  _pwsk_docker_runtime pwsk/action-nodejs:20 "$PWSK_ROOT/runtimes/nodejs" "$node_base"
  _pwsk_docker_runtime pwsk/dockerskeleton "$PWSK_ROOT/runtimes/blackbox" "$PWSK_BASE_IMAGE"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  pwsk_docker
fi
