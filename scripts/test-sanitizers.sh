#!/usr/bin/env bash
# The whole test suite again, built with AddressSanitizer (with leak checks)
# and UndefinedBehaviorSanitizer into build-asan/: any report fails its test
# (UB aborts; ASan exits non-zero). scripts/test.sh runs it after the plain
# suite, so CI (.ci/run) runs both.
#   scripts/test-sanitizers.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# -O1 -g1, the sanitizers' advice: -O1 keeps reports faithful, and line
# tables are all a report's stack needs (file:line). It halves the compile
# time of -O2 -g (statistics.cc: 26 s against 51 s), most of this pass.
optimise="-O1 -g1 -DNDEBUG"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$optimise" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$optimise" >/dev/null
cmake --build build-asan -j "${MIR_JOBS:-2}"
cd build-asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks that are not ours: OpenSSL per-thread state of gRPC threads ending
# after OpenSSL's exit handler (the file says why).
export LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# demo_script runs scripts/demo.sh, which builds and runs the plain build/:
# nothing of it is sanitized, and the plain run already covered it. The
# browser test (console_browser) plays the same demo in Chromium: minutes of
# browser time for no sanitized code beyond what console_test runs here.
ctest --output-on-failure -j "${MIR_JOBS:-2}" -E '^(demo_script|console_browser)$' "$@"
