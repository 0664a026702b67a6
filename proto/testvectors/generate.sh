#!/usr/bin/env bash
# Regenerates v1.txt, the protocol test vectors. Deterministic: fixed seeds
# (RFC 8032 §7.1 test keys, public knowledge, never used outside tests), fixed
# dates and serials, and Ed25519 is deterministic, so a rerun gives the same file.
#
#   proto/testvectors/generate.sh BUILD_DIR   (after building mir-make-test-vectors)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: generate.sh BUILD_DIR}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
umask 077

ca_seed=4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb      # RFC 8032 test 2
author_seed=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60  # RFC 8032 test 1
node_seed=c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7    # RFC 8032 test 3

# PKCS#8 DER of an Ed25519 private key is a fixed 16-byte prefix + the seed.
seed_to_pem() { perl -e 'print pack("H*", $ARGV[0])' "302e020100300506032b657004220420$1" |
  openssl pkey -inform DER -out "$2"; }
seed_to_pem "$ca_seed" "$work/ca.key"
seed_to_pem "$author_seed" "$work/author.key"
seed_to_pem "$node_seed" "$work/node.key"

cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = v
[v]
database = $work/index.txt
serial = $work/serial
new_certs_dir = $work
certificate = $work/ca.crt
private_key = $work/ca.key
default_md = default
policy = any
unique_subject = no
[any]
commonName = supplied
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[author]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = URI:mir://toscana/operator/anna
[node]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = URI:mir://nvn/node
CNF
sign() {  # sign NAME KEY EXT SERIAL [-selfsign]
  : > "$work/index.txt"; echo "$4" > "$work/serial"
  openssl req -new -key "$2" -subj "/CN=$1" -out "$work/$1.csr"
  openssl ca -batch -notext -config "$work/ca.cnf" -extensions "$3" \
    -startdate 20260101000000Z -enddate 20360101000000Z ${5:-} \
    -in "$work/$1.csr" -out "$work/$1.crt" 2>/dev/null
  openssl x509 -in "$work/$1.crt" -outform DER -out "$work/$1.der"
}
sign "test-vector-ca" "$work/ca.key" root 01 -selfsign
cp "$work/test-vector-ca.crt" "$work/ca.crt"
sign "toscana.operator.anna" "$work/author.key" author 02
sign "nvn.node" "$work/node.key" node 03

"$build/tests/mir-make-test-vectors" "$work/test-vector-ca.der" "$author_seed" \
  "$work/toscana.operator.anna.der" "$node_seed" "$work/nvn.node.der" > "$here/v1.txt"
echo "wrote $here/v1.txt"
