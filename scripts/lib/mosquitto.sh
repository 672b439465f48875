# Sourced by scripts/services: a Mosquitto broker on loopback (contract: see kafka.sh).
# Debian's mosquitto package, run with a generated config on its own port (not the system
# service). Port: PWSK_MOSQUITTO_PORT (default 1883).
PWSK_MOSQUITTO_PORT="${PWSK_MOSQUITTO_PORT:-1883}"

pwsk_mosquitto_url() { echo "mqtt://127.0.0.1:$PWSK_MOSQUITTO_PORT"; }

pwsk_mosquitto_install() {
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] && return 0
  [ "$(id -u)" -eq 0 ] || { say "mosquitto: need root to apt-get install mosquitto"; return 1; }
  say "mosquitto: installing Debian's mosquitto package"
  # The package would start the system service on 1883; a policy-rc.d that says no (the
  # Debian way) keeps it from starting, when there is none already.
  local policy=/usr/sbin/policy-rc.d ours=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
  fi
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends mosquitto; } >&2 || { [ -n "$ours" ] && rm -f "$policy"; return 1; }
  [ -n "$ours" ] && rm -f "$policy"
  return 0
}

pwsk_mosquitto_launch() {
  local conf="$PWSK_RUN/mosquitto.conf" bin
  bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
  mkdir -p "$PWSK_RUN"
  cat >"$conf" <<CONF
listener $PWSK_MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
CONF
  pwsk_spawn mosquitto "$bin" -c "$conf"
}

# Ready = an MQTT 3.1.1 CONNECT gets a CONNACK that accepts it.
pwsk_mosquitto_ready() {
  python3 - "$PWSK_MOSQUITTO_PORT" <<'PY' 2>/dev/null
import socket, sys

client = b"pwsk-ready"
# CONNECT: protocol "MQTT" level 4, clean session, keep-alive 10 s, client id
variable = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client).to_bytes(2, "big") + client
packet = bytes([0x10, len(variable)]) + variable
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as sock:
    sock.settimeout(1)
    sock.sendall(packet)
    reply = sock.recv(4)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
sys.exit(0 if reply == b"\x20\x02\x00\x00" else 1)
PY
}
