#!/usr/bin/env bash
# packaging_contents: inspects the .deb that packaging_deb built, without
# installing anything on this machine:
#   tests/packaging/check_deb.sh OUT_DIR PROJECT_VERSION
# - control: name, version, architecture, Depends (dpkg-shlibdeps' runtime
#   libraries and adduser), maintainer scripts and conffiles;
# - data: exactly the expected files, owners and modes; stripped binaries;
# - the packaged mir-broker and mir-console run (--help; a wrong command
#   line exits 2) and accept the example config (each stops at the first
#   missing certificate, not at a config field);
# - both units (mir-broker, mir-console) pass `systemd-analyze verify` and
#   their `systemd-analyze security` exposure stays at most 2.0; the console's
#   runs as mir, reads the node's file and neither starts nor stops the node;
# - `apt-get install --simulate` of the .deb, from this machine's apt lists
#   (no download): on an empty machine (its whole closure comes from the
#   Debian archive) and on this one.
set -euo pipefail
out=$1 version=$2
skip() { echo "SKIPPED: $*"; exit 77; }
for tool in dpkg-deb systemd-analyze file apt-get; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/setup.sh installs it)"
done
debs=("$out"/mir-exchange_*.deb)
deb=${debs[0]}
[[ -f $deb ]] || { echo "FAILED: no mir-exchange_*.deb in $out (packaging_deb failed?)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
ok() { echo "ok: $*"; }
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

echo "== control of ${deb##*/}"
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: mir-exchange" test "$(field Package)" = mir-exchange
check "Version: $version-1" test "$(field Version)" = "$version-1"
check "Architecture: $(dpkg --print-architecture)" test "$(field Architecture)" = "$(dpkg --print-architecture)"
check "Maintainer: $(field Maintainer)" test -n "$(field Maintainer)"
depends=$(field Depends)
echo "Depends: $depends"
# dpkg-shlibdeps' names for Debian 12's gRPC, Protobuf, Abseil, SQLite,
# OpenSSL, libsodium and cpp-httplib (mir-console's HTTPS server), and
# adduser for the postinst.
for dep in adduser 'libgrpc++1.51' libprotobuf32 libabsl20220623 libsqlite3-0 libssl3 libsodium23 libcpp-httplib0.11 libstdc++6 libc6; do
  pattern=${dep//./\\.}
  check "Depends on $dep" grep -qE "(^|, )${pattern//+/\\+}( |,|$)" <<<"$depends"
done

dpkg-deb -e "$deb" "$tmp/control"
for script in postinst prerm postrm; do
  check "$script: mode 0755, sh -n" test "$(stat -c %a "$tmp/control/$script")" = 755 -a -x "$tmp/control/$script"
  sh -n "$tmp/control/$script" || fail "$script: syntax"
done
check "conffiles: /etc/mir/mir-broker.json.example" \
  test "$(cat "$tmp/control/conffiles")" = /etc/mir/mir-broker.json.example
# shellcheck disable=SC2016 # the postinst's own text
check "postinst creates the system user mir" grep -q 'adduser --system --group --home "$state_dir"' "$tmp/control/postinst"
# (try-restart, on upgrade, restarts only a node that runs.)
check "postinst never enables or starts the unit" \
  bash -c "! grep -qE '^[[:space:]]*systemctl( [^ ]+)* (enable|start|restart)( |\$)' '$tmp/control/postinst'"

echo "== data"
# type mode owner path, for every file and folder in the package.
dpkg-deb --contents "$deb" | awk '{ print substr($1, 1, 1), $1, $2, $6 }' | sort -k4 >"$tmp/contents"
expected_files=(
  "./usr/bin/mir-broker -rwxr-xr-x"
  "./usr/bin/mirctl -rwxr-xr-x"
  "./usr/bin/mir-console -rwxr-xr-x"
  "./lib/systemd/system/mir-broker.service -rw-r--r--"
  "./lib/systemd/system/mir-console.service -rw-r--r--"
  "./etc/mir/mir-broker.json.example -rw-r--r--"
  "./usr/share/doc/mir-exchange/copyright -rw-r--r--"
  "./usr/share/doc/mir-exchange/OPERATIONS.md -rw-r--r--"
  "./usr/share/doc/mir-exchange/README.broker.md -rw-r--r--"
  "./usr/share/doc/mir-exchange/README.md -rw-r--r--"
  "./usr/share/doc/mir-exchange/MIRCTL.md -rw-r--r--"
  "./usr/share/doc/mir-exchange/PRIVACY.md -rw-r--r--"
  "./usr/share/doc/mir-exchange/CONSOLE.md -rw-r--r--"
)
for entry in "${expected_files[@]}"; do
  read -r path mode <<<"$entry"
  check "$path $mode root/root" grep -qxF -- "- $mode root/root $path" "$tmp/contents"
done
# CONSOLE.md's pictures, beside it (its links are relative: console/*.png).
pictures=$(grep -cE '^- -rw-r--r-- root/root \./usr/share/doc/mir-exchange/console/[a-z0-9-]+\.png$' "$tmp/contents" || true)
check "CONSOLE.md's pictures: $pictures console/*.png" test "$pictures" -gt 0
# Nothing but these folders (and their parents), all root-owned.
unexpected=$(awk '$1 == "-" { print $4 }' "$tmp/contents" |
  grep -vE '^\./(usr/bin/(mir-broker|mirctl|mir-console)|lib/systemd/system/mir-(broker|console)\.service|etc/mir/mir-broker\.json\.example|usr/share/doc/mir-exchange/[A-Za-z.]+|usr/share/doc/mir-exchange/console/[a-z0-9-]+\.png)$' || true)
check "no other files${unexpected:+: $unexpected}" test -z "$unexpected"
check "every entry owned by root/root" bash -c "! awk '\$3 != \"root/root\"' '$tmp/contents' | grep -q ."
check "no setuid/setgid file" bash -c "! awk '\$2 ~ /[sS]/' '$tmp/contents' | grep -q ."

dpkg-deb -x "$deb" "$tmp/root"
for bin in mir-broker mirctl mir-console; do
  check "$bin is a stripped ELF" bash -c "file -b '$tmp/root/usr/bin/$bin' | grep -q 'ELF.*, stripped'"
done
help=$("$tmp/root/usr/bin/mir-broker" --help 2>&1) && rc=0 || rc=$?
check "mir-broker --help exits 0 with its usage" test "$rc" = 0 -a "${help:0:18}" = "usage: mir-broker "
# The example config, its /etc/mir paths moved to a folder that does not
# exist: the broker must get past the config (every field valid) and stop at
# the first missing file, with exit 1 and a message naming it.
sed "s|/etc/mir/|$tmp/missing/|g; s|/var/lib/mir/|$tmp/data/|g" \
  "$tmp/root/etc/mir/mir-broker.json.example" >"$tmp/example.json"
message=$("$tmp/root/usr/bin/mir-broker" --config "$tmp/example.json" 2>&1) && rc=0 || rc=$?
echo "mir-broker --config <example>: exit $rc: $message"
check "the example config is valid (exit 1 at a missing file, not 2 at a field)" \
  bash -c "[[ $rc == 1 && \"\$1\" == *'cannot read $tmp/missing/'* ]]" _ "$message"

# mir-console: the same, with the console section of the example.
help=$("$tmp/root/usr/bin/mir-console" --help 2>&1) && rc=0 || rc=$?
check "mir-console --help exits 0 with its usage" test "$rc" = 0 -a "${help:0:19}" = "usage: mir-console "
"$tmp/root/usr/bin/mir-console" --no-such-option >/dev/null 2>&1 && rc=0 || rc=$?
check "mir-console with a wrong command line exits 2 (RestartPreventExitStatus=2), got $rc" test "$rc" = 2
message=$("$tmp/root/usr/bin/mir-console" --config "$tmp/example.json" 2>&1) && rc=0 || rc=$?
echo "mir-console --config <example>: exit $rc: $message"
check "the example's console section is valid (exit 1 at the missing CA, past every field)" \
  bash -c "[[ $rc == 1 && \"\$1\" == *'cannot read the CA'*'$tmp/missing/'* ]]" _ "$message"

# Each unit, its ExecStart pointed at the extracted binary: verify checks
# that it exists.
mkdir -p "$tmp/unit"
for name in mir-broker mir-console; do
  echo "== the unit $name.service"
  sed "s|^ExecStart=/usr/bin/$name |ExecStart=$tmp/root/usr/bin/$name |" \
    "$tmp/root/lib/systemd/system/$name.service" >"$tmp/unit/$name.service"
  if verify=$(systemd-analyze verify "$tmp/unit/$name.service" 2>&1) && [[ -z $verify ]]; then
    ok "systemd-analyze verify $name.service: no warnings"
  else
    echo "$verify"
    fail "systemd-analyze verify $name.service"
  fi
  security=$(systemd-analyze security --offline=true "$tmp/unit/$name.service" 2>&1 || true)
  grep '✗' <<<"$security" || true
  score=$(sed -n "s/.*Overall exposure level for $name.service: \([0-9.]*\).*/\1/p" <<<"$security")
  grep 'Overall exposure' <<<"$security" || true
  check "systemd-analyze security $name.service: exposure ${score:-?} <= 2.0" \
    awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
done
# The console's unit: as docs/OPERATIONS.md ("The web console") says.
console_unit=$tmp/root/lib/systemd/system/mir-console.service
unit_has() { grep -qxF -- "$1" "$console_unit"; }
check "mir-console.service: ExecStart reads the node's own file" \
  unit_has "ExecStart=/usr/bin/mir-console --config /etc/mir/mir-broker.json"
check "mir-console.service: User=mir, ConditionPathExists= on the config" \
  bash -c "grep -qxF User=mir '$console_unit' && grep -qxF ConditionPathExists=/etc/mir/mir-broker.json '$console_unit'"
check "mir-console.service: After=mir-broker.service, and no Wants/Requires/BindsTo/PartOf of it" \
  bash -c "grep -qE '^After=.*mir-broker\.service' '$console_unit' &&
    ! grep -qE '^(Wants|Requires|Requisite|BindsTo|PartOf)=.*mir-broker' '$console_unit'"
check "mir-console.service: writes nowhere (no ReadWritePaths=, StateDirectory=)" \
  bash -c "grep -qxF ProtectSystem=strict '$console_unit' &&
    ! grep -qE '^(ReadWritePaths|StateDirectory|CacheDirectory|LogsDirectory)=' '$console_unit'"
check "mir-console.service: RestartPreventExitStatus=2, TimeoutStopSec=" \
  bash -c "grep -qxF RestartPreventExitStatus=2 '$console_unit' && grep -qE '^TimeoutStopSec=[0-9]+s$' '$console_unit'"

echo "== apt-get install --simulate on an empty machine (no download)"
# Here every Depends is installed already (the -dev packages pull them), so
# the install below proves little alone. With an empty dpkg status, apt
# must find the whole closure in this machine's archive lists (Debian 12's):
# what `apt install ./mir-exchange_*.deb` downloads on a fresh machine.
if ! apt-cache madison libc6 2>/dev/null | grep -qv /var/lib/dpkg/status; then
  echo "note: no apt lists on this machine (apt-get update): fresh-machine simulation not made"
else
  : >"$tmp/empty-status"
  if sim=$(apt-get install --simulate -o Dir::State::status="$tmp/empty-status" \
             -o Debug::NoLocking=1 "$deb" 2>&1); then
    names=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//; s/[+.]/\\&/g' | paste -sd'|')
    grep -E "^Inst ($names) " <<<"$sim" || true
    ok "fresh machine: all $(grep -c '^Inst ' <<<"$sim") packages (mir-exchange and its closure) resolve from the archive"
  else
    echo "$sim"
    fail "apt-get install --simulate with an empty dpkg status"
  fi
fi

echo "== apt-get install --simulate (no download)"
if sim=$(apt-get install --simulate --no-download -o Debug::NoLocking=1 "$deb" 2>&1); then
  grep -E '^(Inst|Conf) ' <<<"$sim" || true
  ok "apt-get --simulate: every Depends resolves here"
else
  echo "$sim"
  fail "apt-get install --simulate $deb"
fi

if [[ $failures -gt 0 ]]; then
  echo "FAILED: $failures check(s)"
  exit 1
fi
echo "all checks passed"
