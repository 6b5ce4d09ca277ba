# Shared set-up steps for scripts/local and scripts/test. Every step is idempotent:
# it checks before it installs, so a second run costs seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Each stage line carries the time since the script started (CI reads the stages' cost).
log() { printf '\033[1m==> [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

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

# Python tools venv (one venv for every Python tool, pinned):
# - moto's DynamoDB-compatible server for the DynamoDB store tests (run behind
#   tools/moto_locked.py, see docs/storage.md);
# - cfn-lint and the SAM CLI for the template checks (offline, no credentials);
# - cargo-lambda (with zig) for the Lambda builds (`sam build`, `cargo lambda build`).
# One marker file per version set: changing a pin reinstalls, an unchanged set costs nothing.
MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"
CARGO_LAMBDA_VERSION="1.9.2"
ensure_tools_venv() {
  local marker=".venv-tools/.installed-moto-$MOTO_VERSION-cfnlint-$CFN_LINT_VERSION-sam-$SAM_CLI_VERSION-cargolambda-$CARGO_LAMBDA_VERSION"
  if [ -f "$marker" ]; then return; fi
  log "installing into .venv-tools: moto[server]==$MOTO_VERSION cfn-lint==$CFN_LINT_VERSION aws-sam-cli==$SAM_CLI_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION"
  [ -x .venv-tools/bin/python ] || python3 -m venv .venv-tools
  .venv-tools/bin/pip install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" \
    "aws-sam-cli==$SAM_CLI_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION"
  # cargo-lambda looks for `zig` on PATH, then `python3 -m ziglang` with whichever python3
  # is first on PATH: a symlink next to cargo-lambda makes it independent of PATH order.
  # (Relative, so the venv still works if the checkout moves.)
  local zig
  zig="$(.venv-tools/bin/python -c 'import os, ziglang; print(os.path.relpath(os.path.join(os.path.dirname(ziglang.__file__), "zig"), ".venv-tools/bin"))')"
  ln -sfn "$zig" .venv-tools/bin/zig
  rm -f .venv-tools/.installed-*
  touch "$marker"
}
export SAVEDWALLET_TOOLS_PYTHON="$ROOT/.venv-tools/bin/python"

# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock (the two
# must match), from the Rust registry. A debug build: 1 min 42 s to build here against 3 min 28 s
# optimized, and it still packages the helper in 0.3 s and runs the browser tests in 5 s.
# Not --locked: the CLI's own lockfile pins a webpki-roots release the registry mirror does
# not have; what must match is the CLI's version, and that is pinned.
WASM_BINDGEN_VERSION="0.2.130"
ensure_wasm_bindgen() {
  if command -v wasm-bindgen >/dev/null 2>&1 \
    && [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    return
  fi
  log "cargo install --debug wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install -q --debug wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
}

# The browser tools (tests/browser/package.json, locked): binaryen's wasm-opt, playwright-core
# (it drives Debian's /usr/bin/chromium; it never downloads a browser) and TypeScript.
ensure_browser_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    log "installing Node.js and npm (apt)"
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
  local marker="tests/browser/node_modules/.installed-$(sha256sum tests/browser/package-lock.json | cut -c1-16)"
  if [ -f "$marker" ]; then return; fi
  log "npm ci in tests/browser (binaryen, playwright-core, typescript)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  touch "$marker"
}

# Headless Chromium and its driver (Debian packages): the browser of the wasm tests and the
# end-to-end tests.
ensure_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then return; fi
  log "installing chromium and chromium-driver (apt)"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
}

# The helper's wasm-bindgen tests in headless Chromium (through chromedriver; the browser's
# flags are in wasm/webdriver.json).
test_wasm_helper() {
  ensure_wasm_target
  ensure_wasm_bindgen
  ensure_chromium
  log "wasm-bindgen tests of the helper in headless Chromium ($WASM_ROUTE)"
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver
  if [ "$WASM_ROUTE" = rustup ]; then
    cargo test --locked -p savedwallet-wasm --target wasm32-unknown-unknown
  else
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
      /usr/bin/cargo test --locked -p savedwallet-wasm --target wasm32-unknown-unknown \
      -Z build-std=std,panic_abort --target-dir target-deb
  fi
}
