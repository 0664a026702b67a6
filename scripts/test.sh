#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every
# test; then builds the suite again with ASan and UBSan and runs it there
# (scripts/test-sanitizers.sh; MIR_SANITIZERS=0 skips that second pass).
# Extra arguments go to both ctest runs, e.g. scripts/test.sh -R crypto_test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j "${MIR_JOBS:-2}" "$@")
if [[ "${MIR_SANITIZERS:-1}" != 0 ]]; then
  echo "== the same suite under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/)"
  scripts/test-sanitizers.sh "$@"
fi
