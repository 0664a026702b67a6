#!/usr/bin/env bash
# Configures and builds into ./build (one build directory, two jobs).
#   scripts/build.sh [make targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${MIR_JOBS:-2}" ${1:+--target "$@"}
