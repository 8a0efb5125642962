#!/usr/bin/env bash
# Installs the Debian packages kern's tests use as outside oracles (listed in
# scripts/system-deps.txt, one per line). As root it runs apt-get; otherwise it says
# what is missing and how to install it.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t pkgs < <(grep -vE '^\s*(#|$)' system-deps.txt || true)
if [ "${#pkgs[@]}" -eq 0 ]; then
  echo "no system packages needed"
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages present: ${pkgs[*]}"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "kern's tests need these Debian packages: ${missing[*]}" >&2
  echo "install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
