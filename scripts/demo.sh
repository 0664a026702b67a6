#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# main job. Until the demo network exists, that is a self-check: make a
# development PKI, sign a referral envelope as a Tuscany operator, verify it
# against the network CA, and prove that a tampered copy is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh mir-broker mirctl
demo=.mir-demo
certs/make-dev-pki.sh "$demo/pki" lombardia
build/client/mirctl selfcheck --pki "$demo/pki"
