#!/usr/bin/env bash
# Installs kern on a fresh machine (pnpm through npx) and starts the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1 NPM_CONFIG_UPDATE_NOTIFIER=false
pnpm() { npx -y pnpm@10.34.9 "$@"; }
pnpm install --frozen-lockfile
pnpm start "$@"
