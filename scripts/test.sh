#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every
# test; then builds the suite again with ASan and UBSan and runs it there
# (scripts/test-sanitizers.sh; MIR_SANITIZERS=0 skips that second pass);
# then checks concurrency with two tools (MIR_THREAD_CHECKS=0 skips them):
# clang's -Wthread-safety over our libraries and binaries
# (scripts/check-thread-safety.sh) and ThreadSanitizer over the suites that
# run our threads without gRPC (scripts/test-tsan.sh).
# Last, formatting and lint (scripts/check-style.sh; MIR_STYLE=0 skips it).
# Extra arguments go to the first two ctest runs, e.g. scripts/test.sh -R
# crypto_test; the thread checks always run whole (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
thread_checks=${MIR_THREAD_CHECKS:-1}
setup_options=(--with-test-tools)
if [[ $thread_checks != 0 || "${MIR_STYLE:-1}" != 0 ]]; then setup_options+=(--with-clang); fi
scripts/setup.sh "${setup_options[@]}"
scripts/build.sh
(cd build && ctest --output-on-failure -j "${MIR_JOBS:-2}" "$@")
if [[ "${MIR_SANITIZERS:-1}" != 0 ]]; then
  echo "== the same suite under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/)"
  scripts/test-sanitizers.sh "$@"
fi
if [[ $thread_checks != 0 ]]; then
  echo "== clang's thread-safety analysis of our libraries and binaries (build-tsa/)"
  scripts/check-thread-safety.sh
  echo "== ThreadSanitizer on the suites without gRPC (build-tsan/)"
  scripts/test-tsan.sh
fi
if [[ "${MIR_STYLE:-1}" != 0 ]]; then
  echo "== formatting (clang-format) and lint (clang-tidy), scripts/check-style.sh"
  scripts/check-style.sh
fi
