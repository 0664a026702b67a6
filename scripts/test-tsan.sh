#!/usr/bin/env bash
# ThreadSanitizer over the suites that exercise our concurrency without gRPC
# (RELIABILITY.md §9), built with gcc's -fsanitize=thread into build-tsan/:
#   storage_store_test   the group commit: many writer threads and a reader
#   storage_startup_check_test  the store's background quick_check beside
#                        writers, and a close that interrupts it
#   crypto_test          one Signer and Verifier (its certificate cache)
#                        shared by four threads
#   tsan_work_pool_test  the broker's WorkPool (tests/broker/work_pool_test.cc
#                        without broker_test's gRPC servers)
#   tsan_verifier_test   a new Verifier (empty cache) shared by four threads
#   tsan_node_test       the node's core without its servers: Submit from
#                        four threads while listeners come and go, Deliver
#                        of the same envelopes from two threads at once
#   tsan_shim_test       that TSan sees absl::Mutex synchronize, and
#                        (tsan_shim_sees_a_race) still sees a race beside one
# Debian's Abseil is not built for TSan: tests/tsan/absl_sync_tsan.cc, linked
# into each binary (-DMIR_TSAN=ON), makes its Mutex, CondVar and
# Notification visible. gRPC's threads are uninstrumented code TSan cannot
# follow, so suites that run servers are not here. Any report fails its test.
#   scripts/test-tsan.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-tsan
suites=(tsan_shim_test storage_store_test storage_startup_check_test crypto_test tsan_verifier_test tsan_work_pool_test
  tsan_node_test)
flags="-fsanitize=thread -fno-omit-frame-pointer"
# -O1 -g1 as for ASan (scripts/test-sanitizers.sh): faithful reports with
# file:line, in half the compile time of -O2 -g.
optimise="-O1 -g1 -DNDEBUG"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIR_TSAN=ON \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$optimise" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$optimise" >/dev/null
cmake --build "$build" -j "${MIR_JOBS:-2}" --target "${suites[@]}"
cd "$build"
# halt_on_error: the first report ends the test binary with exit code 66,
# so the test fails; second_deadlock_stack: both stacks of a lock-order
# inversion. No suppressions: nothing is reported (the one report found, in
# OpenSSL's lazily filled certificate cache, is avoided in crypto/verifier.cc).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
regex=$(IFS='|'; echo "^((${suites[*]})\\.|tsan_shim_sees_a_race\$)")
ctest --output-on-failure -j "${MIR_JOBS:-2}" -R "$regex" "$@"
