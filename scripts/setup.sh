#!/usr/bin/env bash
# Install the Debian packages needed to build and test otpp (Debian 12),
# and the browser tests' npm packages. Does nothing if everything is
# already installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  libboost1.81-dev
  libboost-context1.81-dev
  libfmt-dev
  catch2
  cmake
  ninja-build
  g++
  clang
  clang-format
  libclang-rt-14-dev
  libbenchmark-dev
  liburing-dev
  erlang-base
  prometheus
  chromium
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$pkg")
  fi
done

# The browser tests' npm packages (puppeteer-core, which drives the system
# chromium), as locked in tests/browser/package-lock.json.
browser_deps() {
  local stamp=tests/browser/node_modules/.otpp-installed-lock
  if ! cmp -s tests/browser/package-lock.json "$stamp" 2>/dev/null; then
    echo "setup.sh: installing tests/browser's npm packages"
    npm ci --prefix tests/browser --no-audit --no-fund
    cp tests/browser/package-lock.json "$stamp"
  fi
}

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all required packages are installed"
  browser_deps
  exit 0
fi

echo "setup.sh: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
else
  SUDO=(sudo)
fi
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
browser_deps
