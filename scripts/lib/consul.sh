# Sourced by scripts/services: a Consul dev agent on loopback (contract: see kafka.sh).
# Consul 1.14.11 is the last MPL-2.0 line (later releases are BSL, and 1.15+ need nested
# modules the Go proxy lacks). No binary download is reachable here, so it is built once from
# the Go module proxy (~3 min) and cached as $PWSK_CACHE/consul/consul-<version>.
# Port: PWSK_CONSUL_PORT (HTTP API, default 8500; serf and server RPC take the next three).
# The dev agent keeps everything in memory: every start is a clean cluster of one.
PWSK_CONSUL_VERSION="1.14.11"
PWSK_CONSUL_DIR="$PWSK_CACHE/consul"
PWSK_CONSUL_BIN="$PWSK_CONSUL_DIR/consul-$PWSK_CONSUL_VERSION"
PWSK_CONSUL_PORT="${PWSK_CONSUL_PORT:-8500}"

pwsk_consul_url() { echo "consul://127.0.0.1:$PWSK_CONSUL_PORT"; }

pwsk_consul_install() {
  [ -x "$PWSK_CONSUL_BIN" ] && return 0
  command -v go >/dev/null || { say "consul: Go is required to build Consul"; return 1; }
  local src="$PWSK_CONSUL_DIR/src-$PWSK_CONSUL_VERSION" mod
  say "consul: building Consul $PWSK_CONSUL_VERSION from the Go module proxy (once, ~3 min)"
  mkdir -p "$PWSK_CONSUL_DIR"
  mod="$(go mod download -json "github.com/hashicorp/consul@v$PWSK_CONSUL_VERSION" |
         sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$mod" ] || { say "consul: go mod download gave no module directory"; return 1; }
  # The module cache is read-only: build in a writable copy. Its go.mod points the nested
  # modules (api, sdk, proto-public) at subdirectories the proxy's zip does not contain;
  # without those replace lines Go fetches the required versions from the proxy instead.
  rm -rf "$src" && cp -r "$mod" "$src" && chmod -R u+w "$src"
  sed -i '/^replace github.com\/hashicorp\/consul\//d' "$src/go.mod"
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" \
                 -o "$PWSK_CONSUL_BIN.tmp" . >&2)
  mv "$PWSK_CONSUL_BIN.tmp" "$PWSK_CONSUL_BIN"
  rm -rf "$src"
  say "consul: built $PWSK_CONSUL_BIN"
}

pwsk_consul_launch() {
  local p="$PWSK_CONSUL_PORT"
  # Every port of the dev agent moves with the HTTP port, so a second stack (tests) can run
  # beside the first; DNS and gRPC (plain and TLS) are not used by pwsk and stay off.
  pwsk_spawn consul "$PWSK_CONSUL_BIN" agent -dev -bind 127.0.0.1 -client 127.0.0.1 \
    -http-port "$p" -dns-port -1 -grpc-port -1 -grpc-tls-port -1 \
    -serf-lan-port "$((p + 1))" -serf-wan-port "$((p + 2))" -server-port "$((p + 3))"
}

# Ready = the HTTP API answers and a leader is elected (KV writes work from then on).
pwsk_consul_ready() {
  local leader
  leader="$(curl -fsS --max-time 1 "http://127.0.0.1:$PWSK_CONSUL_PORT/v1/status/leader" \
            2>/dev/null)" || return 1
  [ -n "$leader" ] && [ "$leader" != '""' ]
}
