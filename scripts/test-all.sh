#!/usr/bin/env bash
# Installs everything kern's tests need on a fresh machine (Debian packages through
# apt-get when run as root, pnpm through npx) and runs every check and test, the test
# suite once per tested Node runtime.
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
step "hot-path benchmarks still run on every runtime (quick)"
KERN_BENCH_QUICK=1 pnpm bench:runtimes >/dev/null
# The whole suite on each tested runtime (scripts/runtimes.mjs: the machine's Node 20 and
# pinned Node 24 and 26 from the npm registry's `node` package, cached by npx after the
# first run). A runtime that cannot be fetched fails CI and is skipped elsewhere.
reports=()
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for major in $(node scripts/runtimes.mjs majors); do
  step "tests on Node $major"
  if ! bin=$(node scripts/runtimes.mjs path "$major"); then
    reports+=("node-$major=")
    continue
  fi
  label="node-$("$bin" -p process.versions.node)"
  # As `pnpm exec` would, with the runtime's directory first on PATH so that anything a
  # test starts as `node` is the same runtime.
  path="$PWD/node_modules/.bin:$PATH"
  [ "$bin" = "$(command -v node)" ] || path="$(dirname "$bin"):$path"
  PATH="$path" "$bin" node_modules/vitest/vitest.mjs run \
    --reporter=default --reporter=json --outputFile.json="$tmp/$label.json" || status=$?
  reports+=("$label=$tmp/$label.json")
done
step "test summary"
node scripts/test-summary.mjs "${reports[@]}" || status=$?
exit "$status"
