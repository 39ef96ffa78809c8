#!/usr/bin/env bash
# Installs what the project needs on a bare Debian machine with Node ≥ 20: pnpm (pinned) and the
# workspace's packages. Sourced by scripts/start.sh and .ci/run.
set -euo pipefail
PNPM_VERSION=10.34.8
cd "$(dirname "${BASH_SOURCE[0]}")/.."
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "PixPax needs Node.js 20 or newer (found: $(node -v 2>/dev/null || echo none))" >&2
  exit 1
fi
if [ "$(pnpm -v 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  # corepack's signature check fails on some machines; npm installs the pinned pnpm reliably.
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
