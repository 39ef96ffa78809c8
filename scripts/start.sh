#!/usr/bin/env bash
# One command for a newcomer: install, then run PixPax (`pnpm start`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec pnpm --silent start
