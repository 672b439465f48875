# Sourced by scripts: build the Rust native brewery actions (functions/rust) into
#   $PWSK_CACHE/rust/check-threshold.zip  and  $PWSK_CACHE/rust/save-measurement.zip
# (each a zip with one executable `exec`, what the blackbox runtime runs) and print their
# paths. Cargo's build output stays out of the repo ($PWSK_CACHE/rust-target); the build is
# redone only when a source under functions/rust changes, and is quiet unless it fails.
set -euo pipefail
PWSK_ROOT="${PWSK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PWSK_CACHE="${PWSK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwsk}"
PWSK_RUST="$PWSK_CACHE/rust"
PWSK_RUST_ACTIONS="check-threshold save-measurement"
export PWSK_ROOT PWSK_CACHE PWSK_RUST

pwsk_rust() {
  command -v cargo >/dev/null || {
    echo "pwsk: cargo is required to build functions/rust (https://rustup.rs)" >&2
    return 1
  }
  local src="$PWSK_ROOT/functions/rust" stamp="$PWSK_RUST/.pwsk-stamp" want action log
  want="$(cd "$src" && find . -path ./target -prune -o -type f -print | LC_ALL=C sort |
          xargs sha256sum | sha256sum | cut -c1-16)"
  local missing=0
  for action in $PWSK_RUST_ACTIONS; do
    [ -f "$PWSK_RUST/$action.zip" ] || missing=1
  done
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ $missing -eq 1 ]; then
    echo "pwsk: building the Rust brewery actions into $PWSK_RUST" >&2
    mkdir -p "$PWSK_RUST"
    log="$PWSK_RUST/build.log"
    # --locked: the versions are the ones in Cargo.lock, never re-resolved.
    if ! CARGO_TARGET_DIR="$PWSK_CACHE/rust-target" \
         cargo build --release --locked --manifest-path "$src/Cargo.toml" >"$log" 2>&1; then
      cat "$log" >&2
      echo "pwsk: cargo build of functions/rust failed (log: $log)" >&2
      return 1
    fi
    for action in $PWSK_RUST_ACTIONS; do
      # One entry, `exec`, mode 0755: the docker skeleton's contract.
      python3 - "$PWSK_CACHE/rust-target/release/$action" "$PWSK_RUST/$action.zip" <<'PY'
import sys, zipfile
binary, target = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("exec", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(target + ".tmp", "w") as z:
    z.writestr(info, f.read())
PY
      mv "$PWSK_RUST/$action.zip.tmp" "$PWSK_RUST/$action.zip"
    done
    echo "$want" > "$stamp"
  fi
  for action in $PWSK_RUST_ACTIONS; do
    echo "$PWSK_RUST/$action.zip"
  done
}
