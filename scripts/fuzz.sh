#!/usr/bin/env bash
# Fuzzing (RELIABILITY.md, "Fuzzing"): builds the libFuzzer targets with
# clang 14, ASan and UBSan (UB aborts) into build-fuzz/, and runs them.
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]   one target (default 60 s)
#   scripts/fuzz.sh all [SECONDS]                           each target in turn
#   scripts/fuzz.sh corpus                                  rewrite fuzz/corpus/ seeds
#
# TARGET: envelope (Verifier::Verify and what follows on arbitrary bytes),
# deliver (Node::Deliver with a real store), referral_json (mirctl's JSON
# input). Inputs found go to build-fuzz/corpus/TARGET (the committed seeds in
# fuzz/corpus/TARGET are only read). A crash, leak or UB report is written to
# build-fuzz/artifacts/TARGET/ and the script fails; replay it with
#   build-fuzz/fuzz/fuzz_TARGET build-fuzz/artifacts/TARGET/crash-...
# Once fixed, copy the input into fuzz/corpus/TARGET/: CTest replays that
# corpus in every build (fuzz_TARGET_corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(envelope deliver referral_json)
what=${1:-}
if [[ -z $what ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
shift

scripts/setup.sh --with-fuzz-tools
build=build-fuzz
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMIR_BUILD_TESTS=OFF -DMIR_BUILD_FUZZERS=ON \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
fi

if [[ $what == corpus ]]; then
  cmake --build "$build" -j "${MIR_JOBS:-2}" --target mir-fuzz-corpus
  "$build/fuzz/mir-fuzz-corpus" fuzz/corpus
  exit 0
fi

run() {
  local target=$1 seconds=$2; shift 2
  [[ " ${targets[*]} " == *" $target "* ]] || { echo "unknown target: $target" >&2; exit 2; }
  cmake --build "$build" -j "${MIR_JOBS:-2}" --target "fuzz_$target"
  local extra=(-max_len=16384)
  [[ $target == referral_json ]] && extra=(-max_len=8192 -dict=fuzz/referral_json.dict)
  mkdir -p "$build/corpus/$target" "$build/artifacts/$target"
  echo "fuzzing $target for ${seconds}s"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$build/fuzz/fuzz_$target" "${extra[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$target/" "$@" \
      "$build/corpus/$target" "fuzz/corpus/$target"
}

seconds=${1:-60}
if [[ $what == all ]]; then
  for t in "${targets[@]}"; do run "$t" "$seconds"; done
else
  if [[ $# -gt 0 ]]; then shift; fi
  run "$what" "$seconds" "$@"
fi
