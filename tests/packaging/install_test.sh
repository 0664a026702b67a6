#!/usr/bin/env bash
# packaging_install: a real `apt-get install ./mir-exchange_*.deb` in a
# throw-away copy of this machine, then the node run as its unit would run it,
# a reinstall (the upgrade path) and `apt-get purge`:
#   tests/packaging/install_test.sh OUT_DIR TEST_PKI
#
# The copy: an overlay of / (writes go to a tmpfs) in private mount, PID and
# network namespaces (loopback only: the install cannot download anything).
# This machine is not touched, and everything goes when the test ends. A
# leftover mir-exchange, user `mir` or /var/lib/mir on this machine is
# removed in the copy first, so the install is a fresh one.
#
# In the copy, as root in a chroot (like a container: systemd is not running,
# so the maintainer scripts skip systemctl):
#  1. apt-get install --no-download the .deb: postinst makes the system user
#     `mir`, /var/lib/mir 0700 mir:mir and /etc/mir 0750 root:mir, does not
#     enable or start the units; `systemd-analyze verify` of mir-broker.service
#     and mir-console.service.
#  2. The operator's steps of docs/OPERATIONS.md with the test PKI's toscana
#     certificates, keys and KEK; then the unit's ExecStart, as user mir,
#     under the unit's seccomp rules (tests/packaging/sandbox_exec.py:
#     SystemCallFilter=, MemoryDenyWriteExecute=, RestrictAddressFamilies=,
#     NoNewPrivileges=, UMask=) and its mounts (ProtectSystem=strict with
#     ReadWritePaths=/var/lib/mir, PrivateTmp=, ProtectHome=, a private
#     /dev): mirctl lists, submits a referral (signing, sealing, commits),
#     lists it. Then the web console as mir-console.service runs it, with
#     the test PKI's console certificates, under the same emulation (its
#     mounts: everything read-only, the store and the node's keys hidden):
#     a sign-in as toscana/operator over HTTPS (the statement signed with
#     openssl) and the work list relayed from the node over loopback show
#     the referral; SIGTERM stops the console, then the node, each with exit
#     0 within its TimeoutStopSec=.
#  3. The same .deb again (dpkg -i: postinst configure as for an upgrade):
#     user, folders and config untouched.
#  4. apt-get purge: /var/lib/mir is gone; /etc/mir keeps the files the
#     operator put there; the user stays.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }

if [[ ${1:-} != --inner ]]; then
  out=$1 pki=$2
  [[ $(id -u) == 0 ]] || skip "needs root (namespaces and an overlay of /); run as root to install the package for real"
  debs=("$out"/mir-exchange_*.deb)
  deb=${debs[0]}
  [[ -f $deb ]] || { echo "FAILED: no mir-exchange_*.deb in $out (packaging_deb failed?)"; exit 1; }
  [[ -f $pki/toscana/kek.hex && -f $pki/toscana/enc.key ]] ||
    { echo "FAILED: no test PKI with encryption keys in $pki (make_test_pki)"; exit 1; }
  for tool in unshare chroot mount python3 apt-get dpkg ip systemd-analyze; do
    command -v "$tool" >/dev/null || skip "$tool is missing (scripts/setup.sh installs it)"
  done
  unshare --mount --net --pid --fork true 2>/dev/null ||
    skip "cannot make mount, network and PID namespaces here (a container without CAP_SYS_ADMIN?)"
  work=$(mktemp -d /tmp/mir-packaging-install.XXXXXX)
  rc=0
  unshare --mount --propagation private --net --pid --fork --kill-child --mount-proc \
    "$0" --inner "$work" "$deb" "$pki" || rc=$?
  rm -rf "$work"  # empty: its tmpfs went with the namespace
  exit $rc
fi

# ---- inside the namespaces ----
work=$2 deb=$3 pki=$4
start=$SECONDS
ip link set lo up
mount -t tmpfs -o mode=0700,size=4g tmpfs "$work"
mkdir "$work/upper" "$work/overlay-work" "$work/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/overlay-work" \
  "$work/root" 2>"$work/mount.err" || skip "cannot mount an overlay of / here: $(cat "$work/mount.err")"
root=$work/root
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
# A /dev like PrivateDevices= gives, and empty /run and /tmp.
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r name major minor <<<"$node"
  mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"

failures=0
ok() { echo "ok: $*"; }
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
mode_of() { in_root stat -c '%a %U %G' "$1"; }
quiet() { "$@" >/dev/null 2>&1; }

# A fresh machine: nothing of a previous install (on this machine) in the copy.
if in_root dpkg-query -W mir-exchange >/dev/null 2>&1; then in_root dpkg --purge mir-exchange >/dev/null; fi
if in_root getent passwd mir >/dev/null; then in_root userdel mir; fi
if in_root getent group mir >/dev/null; then in_root groupdel mir; fi
rm -rf "$root/var/lib/mir" "$root/etc/mir"

echo "== 1. apt-get install ./${deb##*/} (no download, no network)"
cp "$deb" "$root/tmp/"
# (No --no-download: apt then refuses the local file. The network namespace
# has nothing but loopback: nothing can be downloaded.)
if in_root apt-get install -y "/tmp/${deb##*/}" >"$work/install.log" 2>&1; then
  grep -E '^(Setting up|Unpacking|Selecting)|mir-exchange:' "$work/install.log" || true
  ok "apt-get install"
else
  cat "$work/install.log"
  fail "apt-get install"
  exit 1
fi
# shellcheck disable=SC2016 # dpkg-query's format
check "dpkg: install ok installed" \
  test "$(in_root dpkg-query -W -f='${Status}' mir-exchange)" = "install ok installed"
IFS=: read -r _ _ uid _ _ home shell < <(in_root getent passwd mir) || true
echo "user mir: uid ${uid:-none}, home ${home:-}, shell ${shell:-}"
check "system user mir (uid < 1000, home /var/lib/mir, no login shell)" \
  test "${uid:-9999}" -lt 1000 -a "${home:-}" = /var/lib/mir -a "${shell:-}" = /usr/sbin/nologin
check "group mir" quiet in_root getent group mir
check "/var/lib/mir 0700 mir:mir" test "$(mode_of /var/lib/mir)" = "700 mir mir"
check "/etc/mir 0750 root:mir" test "$(mode_of /etc/mir)" = "750 root mir"
check "unit installed, not enabled" test -f "$root/lib/systemd/system/mir-broker.service" \
  -a ! -e "$root/etc/systemd/system/multi-user.target.wants/mir-broker.service"
if verify=$(in_root systemd-analyze verify mir-broker.service 2>&1) && [[ -z $verify ]]; then
  ok "systemd-analyze verify mir-broker.service (installed): no warnings"
else
  echo "$verify"
  fail "systemd-analyze verify mir-broker.service"
fi
check "mir-broker --help (installed)" quiet in_root mir-broker --help
check "console unit installed, not enabled" test -f "$root/lib/systemd/system/mir-console.service" \
  -a ! -e "$root/etc/systemd/system/multi-user.target.wants/mir-console.service"
if verify=$(in_root systemd-analyze verify mir-console.service 2>&1) && [[ -z $verify ]]; then
  ok "systemd-analyze verify mir-console.service (installed): no warnings"
else
  echo "$verify"
  fail "systemd-analyze verify mir-console.service"
fi
check "mir-console --help (installed)" quiet in_root mir-console --help

echo "== 2. configure as docs/OPERATIONS.md says, run as the unit would"
t=/opt/mir-packaging-test  # in the copy, outside what the sandbox hides
mkdir -p "$root$t"
cp -r "$pki" "$root$t/pki"
cp "$here/sandbox_exec.py" "$here/console_client.py" "$root$t/"
p=$t/pki
in_root install -m 0644 -o root -g root "$p/ca.crt" /etc/mir/ca.crt
in_root install -m 0644 -o root -g root "$p/toscana/node.crt" /etc/mir/node.crt
in_root install -m 0600 -o mir -g mir "$p/toscana/node.key" /etc/mir/node.key
in_root install -m 0644 -o root -g root "$p/toscana/enc.crt" /etc/mir/enc.crt
in_root install -m 0600 -o mir -g mir "$p/toscana/enc.key" /etc/mir/enc.key
in_root install -d -m 0755 -o root -g root /etc/mir/enc
in_root sh -c "install -m 0644 -o root -g root $p/enc/*.crt /etc/mir/enc/"
in_root install -m 0600 -o mir -g mir "$p/toscana/kek.hex" /etc/mir/kek.hex
# The web console's two certificates (docs/OPERATIONS.md, "The web console").
in_root install -m 0644 -o root -g root "$p/toscana/console.crt" /etc/mir/console.crt
in_root install -m 0600 -o mir -g mir "$p/toscana/console.key" /etc/mir/console.key
in_root install -m 0644 -o root -g root "$p/toscana/console-https.crt" /etc/mir/console-https.crt
in_root install -m 0600 -o mir -g mir "$p/toscana/console-https.key" /etc/mir/console-https.key
# The packaged example, on loopback; nvn (its peer) is not running.
sed 's|"0.0.0.0:7102"|"127.0.0.1:7102"|; s|"nvn.mir.example:7101"|"127.0.0.1:7101"|' \
  "$root/etc/mir/mir-broker.json.example" >"$root/etc/mir/mir-broker.json"
in_root chown root:mir /etc/mir/mir-broker.json
in_root chmod 0640 /etc/mir/mir-broker.json
# The operator's check (§3), as mir: every file named, the console's too.
if checked=$(in_root runuser -u mir -- mir-broker --check-config /etc/mir/mir-broker.json 2>&1); then
  ok "mir-broker --check-config (as mir): $checked"
else
  echo "$checked"
  fail "mir-broker --check-config /etc/mir/mir-broker.json (as mir)"
fi

unit=/lib/systemd/system/mir-broker.service
exec_start=$(sed -n 's/^ExecStart=//p' "$root$unit")
read -ra exec_argv <<<"$exec_start"
stop_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$root$unit")
echo "ExecStart=$exec_start; TimeoutStopSec=${stop_timeout}s"
died_of() {  # explains an exit status
  if [[ $1 == $((128 + 31)) ]]; then
    echo "killed by SIGSYS: a system call outside the unit's SystemCallFilter= (see dmesg/audit)"
  else
    echo "exit status $1"
  fi
}
# The unit's mounts, in a mount namespace of the node's own.
# shellcheck disable=SC2016
unshare --mount --propagation private -- bash -c '
  set -e
  root=$1; shift
  mount --bind "$root/var/lib/mir" "$root/var/lib/mir"           # ReadWritePaths=, StateDirectory=
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"                  # PrivateTmp=
  mount -t tmpfs -o mode=1777 tmpfs "$root/var/tmp"
  for d in home root; do mount -t tmpfs -o ro,mode=0755 tmpfs "$root/$d"; done   # ProtectHome=
  mount -o remount,bind,ro "$root"                               # ProtectSystem=strict
  mount -o remount,bind,ro "$root/run"
  exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    python3 "$@"
' _ "$root" "$t/sandbox_exec.py" --unit "$unit" --user mir -- "${exec_argv[@]}" >"$work/broker.log" 2>&1 &
broker=$!
mirctl() { in_root mirctl --node 127.0.0.1:7102 --pki "$p" --as toscana/operator "$@"; }

# The web console as its unit runs it: the unit's ExecStart as mir under its
# seccomp rules, in a mount namespace of its own: ProtectSystem=strict with
# nothing writable, PrivateTmp=, ProtectHome=, and InaccessiblePaths= (an
# empty folder and a file of mode 0 mounted over them, as systemd does).
# Then a browser's sign-in and the work list, relayed from the node.
console_test() {  # console_test REFERRAL_ID
  local cunit=/lib/systemd/system/mir-console.service
  local cexec ctimeout console up=0
  cexec=$(sed -n 's/^ExecStart=//p' "$root$cunit")
  read -ra cexec_argv <<<"$cexec"
  ctimeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$root$cunit")
  local hidden
  hidden=$(sed -n 's/^InaccessiblePaths=//p' "$root$cunit" | tr ' ' '\n' | sed 's/^-//' | paste -sd' ')
  echo "ExecStart=$cexec; TimeoutStopSec=${ctimeout}s; InaccessiblePaths=$hidden"
  # shellcheck disable=SC2016
  unshare --mount --propagation private -- bash -c '
    set -e
    root=$1 hidden=$2; shift 2
    mount -t tmpfs -o mode=0755 tmpfs "$root/mnt"
    mkdir -m 0 "$root/mnt/dir"; touch "$root/mnt/file"; chmod 0 "$root/mnt/file"
    for path in $hidden; do                                      # InaccessiblePaths=
      if [ -d "$root$path" ]; then mount --bind "$root/mnt/dir" "$root$path"
      elif [ -e "$root$path" ]; then mount --bind "$root/mnt/file" "$root$path"; fi
    done
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"                  # PrivateTmp=
    mount -t tmpfs -o mode=1777 tmpfs "$root/var/tmp"
    for d in home root; do mount -t tmpfs -o ro,mode=0755 tmpfs "$root/$d"; done   # ProtectHome=
    mount -o remount,bind,ro "$root"                               # ProtectSystem=strict
    mount -o remount,bind,ro "$root/run"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      python3 "$@"
  ' _ "$root" "$hidden" "$t/sandbox_exec.py" --unit "$cunit" --user mir -- "${cexec_argv[@]}" \
    >"$work/console.log" 2>&1 &
  console=$!
  for _ in $(seq 150); do
    kill -0 "$console" 2>/dev/null || break
    if in_root python3 "$t/console_client.py" https://127.0.0.1:7443 "$p/web-ca.crt" challenge \
         >/dev/null 2>&1; then up=1; break; fi
    sleep 0.2
  done
  if [[ $up == 1 ]]; then
    ok "the console serves HTTPS on 127.0.0.1:7443 (its certificate checked against web-ca)"
    local out
    out=$(in_root python3 "$t/console_client.py" https://127.0.0.1:7443 "$p/web-ca.crt" list \
            "$p/toscana/operator.crt" "$p/toscana/operator.key" 2>&1) || true
    echo "$out" | sed 's/^/   | /' | cut -c1-300
    check "console sign-in as mir://toscana/operator/... (statement signed with Ed25519)" \
      grep -q '"identity": "mir://toscana/operator/' <<<"$out"
    # shellcheck disable=SC2016 # expanded by the inner bash
    check "console work list, relayed from the node over loopback, shows referral ${1:-none}" \
      bash -c '[[ -n $1 && $2 == *"\"referralId\": \"$1\""* ]]' _ "${1:-}" "$out"
    local t0 ms rc=0 stopped=0
    t0=$(date +%s%N)
    kill -TERM "$console"
    for _ in $(seq $((ctimeout * 10))); do
      kill -0 "$console" 2>/dev/null || { stopped=1; break; }
      sleep 0.1
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    if [[ $stopped == 1 ]]; then
      wait "$console" || rc=$?
      check "console SIGTERM: stopped in $ms ms (TimeoutStopSec=${ctimeout}s), $(died_of "$rc")" test "$rc" = 0
    else
      kill -KILL "$console"
      fail "console SIGTERM: still running after TimeoutStopSec=${ctimeout}s"
    fi
  else
    local rc=0; wait "$console" || rc=$?
    fail "the console did not serve within 30 s: $(died_of "$rc")"
  fi
  echo "-- the console's log:"
  sed 's/^/   | /' "$work/console.log"
  check "the console's log: listening, stopping" bash -c "grep -q 'mir-console for node toscana listening on port 7443' '$work/console.log' &&
    grep -q 'mir-console stopping' '$work/console.log'"
}
up=0
for _ in $(seq 150); do
  kill -0 "$broker" 2>/dev/null || break
  if mirctl list >/dev/null 2>&1; then up=1; break; fi
  sleep 0.2
done
if [[ $up == 1 ]]; then
  ok "the node serves (mirctl list as toscana/operator)"
  id=$(mirctl submit --to nvn --consent --consent-method WRITTEN --person-code PKG-TEST-0001 \
         --urgency EMERGENCY_24H --danger HIGH --transfer-reason SAFETY_RISK \
         --service EMERGENCY_SHELTER --gender FEMALE --age-band 18_24 --language pcm \
         --mediator-language pcm --json 2>&1 | sed -n 's/.*"referralId": *"\([^"]*\)".*/\1/p' | head -1) || true
  check "mirctl submit: referral ${id:-none} (signed, sealed, committed)" test -n "$id"
  listed=$(mirctl list --json 2>&1) || true
  check "mirctl list shows it" test -n "$id" -a "${listed#*"$id"}" != "$listed"
  check "/var/lib/mir/toscana.db 0600 mir:mir" test "$(mode_of /var/lib/mir/toscana.db)" = "600 mir mir"
  console_test "${id:-}"
  stop_start=$(date +%s%N)
  kill -TERM "$broker"
  stopped=0
  for _ in $(seq $((stop_timeout * 10))); do
    kill -0 "$broker" 2>/dev/null || { stopped=1; break; }
    sleep 0.1
  done
  stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
  if [[ $stopped == 1 ]]; then
    rc=0; wait "$broker" || rc=$?
    check "SIGTERM: stopped in $stop_ms ms (TimeoutStopSec=${stop_timeout}s), $(died_of "$rc")" test "$rc" = 0
  else
    kill -KILL "$broker"
    fail "SIGTERM: still running after TimeoutStopSec=${stop_timeout}s"
  fi
else
  rc=0; wait "$broker" || rc=$?
  fail "the node did not serve within 30 s: $(died_of "$rc")"
fi
echo "-- the node's log:"
sed 's/^/   | /' "$work/broker.log"
check "the log: started, SIGTERM, stopped" bash -c "grep -q 'listening on' '$work/broker.log' &&
  grep -q 'received SIGTERM' '$work/broker.log' && grep -q 'node toscana stopped' '$work/broker.log'"
check "the node's log: its console acted for the operator signed in" \
  grep -q 'mir://toscana/console acts for mir://toscana/operator/' "$work/broker.log"

echo "== 3. the same .deb again (postinst configure, as on an upgrade)"
sum_before=$(md5sum <"$root/etc/mir/mir-broker.json")
if in_root dpkg -i "/tmp/${deb##*/}" >"$work/reinstall.log" 2>&1; then
  ok "dpkg -i again"
else
  cat "$work/reinstall.log"
  fail "dpkg -i again"
fi
check "user mir unchanged" test "$(in_root id -u mir)" = "${uid:-}"
check "/var/lib/mir still 0700 mir:mir, database kept" \
  test "$(mode_of /var/lib/mir)" = "700 mir mir" -a -f "$root/var/lib/mir/toscana.db"
check "/etc/mir still 0750 root:mir, config untouched" \
  test "$(mode_of /etc/mir)" = "750 root mir" -a "$(md5sum <"$root/etc/mir/mir-broker.json")" = "$sum_before"

echo "== 4. apt-get purge mir-exchange"
if in_root apt-get purge -y mir-exchange >"$work/purge.log" 2>&1; then
  grep 'mir-exchange:' "$work/purge.log" || true
  ok "apt-get purge"
else
  cat "$work/purge.log"
  fail "apt-get purge"
fi
check "dpkg: not installed" bash -c "! chroot '$root' dpkg-query -W -f='\${Status}' mir-exchange 2>/dev/null | grep -q installed"
check "binaries and units gone" test ! -e "$root/usr/bin/mir-broker" -a ! -e "$root/usr/bin/mirctl" \
  -a ! -e "$root/usr/bin/mir-console" -a ! -e "$root/lib/systemd/system/mir-broker.service" \
  -a ! -e "$root/lib/systemd/system/mir-console.service"
check "/var/lib/mir (the database) deleted" test ! -e "$root/var/lib/mir"
check "/etc/mir kept with the operator's files, example gone" \
  test -f "$root/etc/mir/kek.hex" -a -f "$root/etc/mir/mir-broker.json" -a ! -e "$root/etc/mir/mir-broker.json.example"
check "user mir kept" quiet in_root getent passwd mir

echo "($((SECONDS - start)) s)"
if [[ $failures -gt 0 ]]; then
  echo "FAILED: $failures check(s)"
  exit 1
fi
echo "all checks passed"
