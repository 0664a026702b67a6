#!/usr/bin/env bash
# Clang's thread-safety analysis over our own code: builds the libraries and
# binaries (not the test suites) with clang 14 into build-tsa/, where
# -Wthread-safety is an error. The analysis checks the ABSL_GUARDED_BY /
# ABSL_EXCLUSIVE_LOCKS_REQUIRED / ABSL_LOCKS_EXCLUDED annotations against
# every absl::MutexLock at compile time (RELIABILITY.md §9).
#   scripts/check-thread-safety.sh [make targets...]
#
# -Wthread-safety is clang's stable set: analysis (a guarded field read or
# written without its lock, a lock not released on every path, a call
# without a required lock), attributes (a malformed annotation), precise
# (which mutex, by name) and reference (a guarded field passed by reference).
# -Wthread-safety-beta adds the lock-order checks (a mutex declared
# ABSL_ACQUIRED_AFTER another taken before it); clean today, and cheap. Not used:
# -Wthread-safety-negative, which would make every ABSL_LOCKS_EXCLUDED a
# negative capability that each caller must carry through; Abseil's
# annotations are not written for it.
# Debian's Abseil and gRPC come in through CMake's imported targets, as
# system headers (-isystem): their warnings are not ours to fix. Nothing of
# ours is exempt (generated protobuf code holds no locks). Our targets keep
# their -Wall -Wextra -Werror, so this is also a second compiler for that
# rule: clang warns of a few things gcc does not (a braced initializer that
# leaves out fields, for one), and those fail here too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-clang
build=build-tsa
targets=(mir_common mir_crypto mir_storage mir_broker mir_broker_config mir_client mir_console
  mir-broker mirctl mir-console)
flags="-Wthread-safety -Wthread-safety-beta -Werror=thread-safety -Werror=thread-safety-beta"
# No optimisation, no debug info: the analysis runs in the front end, and
# nothing built here is run.
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=None \
  -DMIR_BUILD_TESTS=OFF -DCMAKE_C_FLAGS="" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
# -k: every finding in one run, not only the first file's.
cmake --build "$build" -j "${MIR_JOBS:-2}" --target "${@:-${targets[@]}}" -- -k
echo "thread-safety analysis: no findings in ${*:-${targets[*]}}"
