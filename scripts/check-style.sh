#!/usr/bin/env bash
# Formatting and lint, as CI checks them (scripts/test.sh):
#   1. every tracked .cc/.h file is as clang-format 14 formats it
#      (.clang-format: Google style, 100 columns);
#   2. clang-tidy 14 finds nothing of .clang-tidy's small set of bug-finding
#      checks in our libraries and binaries (not the tests), using the
#      compile commands of the clang build in build-tsa/
#      (scripts/check-thread-safety.sh builds it first, and the generated
#      protobuf headers with it).
#   scripts/check-style.sh            both
#   scripts/check-style.sh --fix      reformat in place instead of checking
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-clang
mapfile -t sources < <(git ls-files '*.cc' '*.h')
if [[ "${1:-}" == --fix ]]; then
  clang-format-14 -i "${sources[@]}"
  exit 0
fi
echo "clang-format: ${#sources[@]} files"
clang-format-14 --dry-run --Werror "${sources[@]}"

[[ -f build-tsa/compile_commands.json ]] || scripts/check-thread-safety.sh >/dev/null
mapfile -t units < <(git ls-files 'common/*.cc' 'crypto/*.cc' 'storage/*.cc' 'broker/*.cc' \
  'client/*.cc' 'console/*.cc' 'stats/*.cc')
echo "clang-tidy: ${#units[@]} files"
# --quiet drops the "N warnings generated" lines about system headers, which
# HeaderFilterRegex keeps out of the findings; any finding is an error.
printf '%s\n' "${units[@]}" |
  xargs -P "${MIR_JOBS:-2}" -n 4 clang-tidy-14 -p build-tsa --quiet 2> >(grep -v 'warnings generated' >&2)
echo "clang-format and clang-tidy: no findings"
