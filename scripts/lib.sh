# Shared set-up steps for scripts/local and scripts/test. Every step is idempotent:
# it checks before it installs, so a second run costs seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Rust toolchain: rustup's stable toolchain with rustfmt and clippy.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      log "installing Rust (rustup, stable)"
      curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
      export PATH="$HOME/.cargo/bin:$PATH"
    fi
  fi
}

# wasm32 target for the pure `shared` crate (it must also run in the browser helper).
# rustup's target first; if rustup cannot fetch it, Debian's rustc-web with build-std.
WASM_ROUTE=""
ensure_wasm_target() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    WASM_ROUTE=rustup; return
  fi
  if rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    WASM_ROUTE=rustup; return
  fi
  log "rustup could not add wasm32-unknown-unknown; using Debian rustc-web (build-std)"
  if ! [ -x /usr/bin/rustc ] || ! dpkg -s rust-web-src >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq rustc-web cargo-web rust-web-src lld >/dev/null
  fi
  WASM_ROUTE=debian
}

build_shared_for_wasm() {
  ensure_wasm_target
  log "building shared for wasm32-unknown-unknown ($WASM_ROUTE)"
  if [ "$WASM_ROUTE" = rustup ]; then
    cargo build --locked -p savedwallet-shared --target wasm32-unknown-unknown
  else
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
      /usr/bin/cargo build --locked -p savedwallet-shared --target wasm32-unknown-unknown \
      -Z build-std=std,panic_abort --target-dir target-deb
  fi
}

# Python tools venv: moto's DynamoDB-compatible server for the DynamoDB store tests
# (run behind tools/moto_locked.py, see docs/storage.md).
MOTO_VERSION="5.2.5"
ensure_tools_venv() {
  local marker=".venv-tools/.installed-moto-$MOTO_VERSION"
  if [ -f "$marker" ]; then return; fi
  log "creating .venv-tools with moto[server]==$MOTO_VERSION"
  python3 -m venv .venv-tools
  .venv-tools/bin/pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$marker"
}
export SAVEDWALLET_TOOLS_PYTHON="$ROOT/.venv-tools/bin/python"
