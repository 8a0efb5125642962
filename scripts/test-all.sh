#!/usr/bin/env bash
# Installs everything kern's tests need on a fresh machine (Debian packages through
# apt-get when run as root, pnpm through npx) and runs every check and test.
# .ci/run runs exactly this with CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1 NPM_CONFIG_UPDATE_NOTIFIER=false
pnpm() { npx -y pnpm@10.34.9 "$@"; }
step() { printf '\n=== %s\n' "$*"; }

step "system packages"
bash scripts/install-system-deps.sh
step "install"
pnpm install --frozen-lockfile
step "build (turbo)"
pnpm build
step "typecheck"
pnpm typecheck
step "lint"
pnpm lint
step "format"
pnpm format:check
step "changesets"
pnpm changeset status
step "package contents (pnpm pack + publint)"
pnpm check:pack
step "benchmarks still run (quick)"
KERN_BENCH_QUICK=1 pnpm bench >/dev/null
step "tests"
results=$(mktemp --suffix=.json)
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results" || status=$?
node scripts/test-summary.mjs "$results" || status=$?
exit "$status"
