#!/usr/bin/env bash
# Install the Debian packages needed to build and test otpp (Debian 12).
# Does nothing if everything is already installed.
set -euo pipefail

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
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all required packages are installed"
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
