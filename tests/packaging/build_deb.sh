#!/usr/bin/env bash
# packaging_deb: builds mir-exchange_<version>-1_<arch>.deb from BUILD_DIR with
# cpack (packaging/CMakeLists.txt) into OUT_DIR, as a release would:
#   tests/packaging/build_deb.sh BUILD_DIR OUT_DIR
# mir-broker and mirctl must be built (cpack packages what is built).
set -euo pipefail
build=$1 out=$2
skip() { echo "SKIPPED: $*"; exit 77; }
# dpkg-shlibdeps computes Depends; file finds the binaries for it.
for tool in cpack dpkg-deb dpkg-shlibdeps file strip; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/setup.sh installs it)"
done
rm -rf "$out"
mkdir -p "$out"
start=$SECONDS
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1; then
  cat "$out/cpack.log"
  echo "FAILED: cpack (log above)"
  exit 1
fi
debs=("$out"/mir-exchange_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || { ls -la "$out"; echo "FAILED: expected one mir-exchange_*.deb"; exit 1; }
echo "built ${debs[0]##*/}, $(stat -c %s "${debs[0]}") bytes, in $((SECONDS - start)) s"
