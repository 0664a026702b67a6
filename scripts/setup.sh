#!/usr/bin/env bash
# Installs, from Debian 12's own packages, whatever the build needs and is
# missing. Works as root or as a user with sudo; does nothing when all is there.
set -euo pipefail

packages=(
  cmake make g++ pkg-config openssl perl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libssl-dev libgtest-dev libgmock-dev
  # libsodium: the broker's crypto/ signs and verifies Ed25519 with it (about
  # twice OpenSSL's rate; OpenSSL keeps X.509); mir-bench measures both floors.
  libsodium-dev
  # broker/metrics.h: Prometheus registry, text format and HTTP exposer from a
  # maintained library rather than hand-written exposition.
  prometheus-cpp-dev
  # tests/packaging: cpack's Depends (dpkg-shlibdeps in dpkg-dev, file),
  # systemd-analyze (systemd), the unit's seccomp rules replayed
  # (python3, libseccomp2), the throw-away install (util-linux: unshare;
  # iproute2: ip; adduser, as the package's postinst needs).
  dpkg-dev file systemd python3 libseccomp2 util-linux iproute2 adduser
  # console/ (mir-console): HTTPS and HTTP parsing from a maintained library
  # rather than written by hand (docs/ARCHITECTURE.md).
  libcpp-httplib-dev
  # common/codes.h: the ISO 639-3 language codes a report or service request
  # may name, read at build time from Debian's list rather than copied here.
  iso-codes
)
for option in "$@"; do
  case "$option" in
    # scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
    --with-fuzz-tools) packages+=(clang-14 libclang-rt-14-dev) ;;
    # scripts/check-thread-safety.sh (clang's -Wthread-safety), test-tsan.sh,
    # check-style.sh (clang-format, clang-tidy).
    --with-clang) packages+=(clang-14 clang-format-14 clang-tidy-14) ;;
    # The alerts_rules test's promtool (docs/alerts.yml). Only Debian's whole
    # prometheus package ships it (about 100 MB, and a prometheus service
    # that starts unless policy-rc.d forbids it), so only for the tests.
    # The console's browser tests (tests/browser): Debian's Chromium, headless,
    # driven by Debian's ChromeDriver through Selenium.
    --with-test-tools) packages+=(prometheus chromium chromium-driver python3-selenium) ;;
    # mir-bench --only peers: RabbitMQ and Redis measured beside the broker in
    # the same run (docs/PERFORMANCE.md), and rabbitmq-c for its AMQP client.
    --with-bench-peers) packages+=(rabbitmq-server redis-server librabbitmq-dev) ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
