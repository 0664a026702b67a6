#!/usr/bin/env bash
# Makes a development PKI for MIR Exchange with the openssl CLI.
#
#   certs/make-dev-pki.sh OUT_DIR [NODE ...]
#
# OUT_DIR/ca.crt                  the network CA (ca.key beside it)
# OUT_DIR/<node>/node.{crt,key}      mir://<node>/node           (TLS server+client, signs receipts)
# OUT_DIR/<node>/operator.{crt,key}  mir://<node>/operator/op1   (hotline staff)
# OUT_DIR/<node>/partner.{crt,key}   mir://<node>/partner/shelter1 (project partner)
# OUT_DIR/<node>/enc.{crt,key}       mir://<node>/node, X25519, keyAgreement only: the
#                                    key sealed fields are wrapped to (PROTOCOL.md §11)
# OUT_DIR/<node>/console.{crt,key}  mir://<node>/console (TLS client only): the web
#                                    console towards its broker (PROTOCOL.md §13)
# OUT_DIR/<node>/console-https.{crt,key}  ECDSA P-256, signed by web-ca, DNS:localhost,
#                                    IP:127.0.0.1, serverAuth: the console's HTTPS
#                                    (browsers take no Ed25519 in TLS)
# OUT_DIR/web-ca.crt              ECDSA P-256 CA of the consoles' HTTPS only (web-ca.key beside)
# OUT_DIR/<node>/kek.hex          the node's key-encryption key (64 hex digits, mode 0600)
# OUT_DIR/enc/<node>.crt          a copy of each node's enc.crt: the folder every node
#                                 reads its peers' encryption certificates from
# OUT_DIR/test/...                expired, not-yet-valid, other-CA, wrong-role and
#                                 unknown-node (veneto) certificates, a second
#                                 partner, and an encryption certificate from the
#                                 other CA (other-ca-enc), for tests only
# OUT_DIR/crl.pem                 the CA's revocation list: revokes test/revoked-operator
#                                 (mir://toscana/operator/revoked) and test/revoked-node
#                                 (mir://toscana/node); OUT_DIR/crl-empty.pem revokes
#                                 nothing; test/stale-crl.pem is crl.pem's content with
#                                 a nextUpdate in the past; test/other-ca/crl.pem is the
#                                 other CA's (empty) list; test/nvn-node-2 is a second
#                                 valid nvn node certificate (a rotation)
#
# Nodes: nvn and toscana always, plus every NODE named. Re-running keeps what
# exists and adds what is missing (a PKI made before a file kind existed gets
# it). Development only: keys are unencrypted.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
  exit $(( $# < 1 ? 2 : 0 ))
fi
out=$1; shift
nodes=(nvn toscana "$@")
umask 077
mkdir -p "$out/test"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

valid_node() { [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]]; }

# make_ca DIR: a self-signed Ed25519 CA in DIR/ca.{key,crt}.
make_ca() {
  local dir=$1 cn=$2
  [[ -f "$dir/ca.crt" ]] && return 0
  openssl genpkey -algorithm ed25519 -out "$dir/ca.key"
  openssl req -new -x509 -key "$dir/ca.key" -out "$dir/ca.crt" -days 3650 \
    -subj "/O=MIR Exchange development/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# issue CA_DIR OUT_PREFIX URI START END [server] [EKU]
# START/END: openssl ca dates (YYYYMMDDHHMMSSZ) or "" for now / +825 days.
# EKU: extendedKeyUsage, default serverAuth,clientAuth.
issue() {
  local ca_dir=$1 prefix=$2 uri=$3 start=$4 end=$5 server=${6:-} eku=${7:-serverAuth,clientAuth}
  [[ -f "$prefix.crt" ]] && return 0
  local san="URI:$uri"
  [[ -n "$server" ]] && san="$san,DNS:localhost,IP:127.0.0.1,IP:::1"
  local db="$work/db.$RANDOM$RANDOM"; mkdir -p "$db"; : > "$db/index.txt"
  openssl rand -hex 16 > "$db/serial"
  cat > "$db/ca.cnf" <<CNF
[ca]
default_ca = dev
[dev]
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db
certificate = $ca_dir/ca.crt
private_key = $ca_dir/ca.key
default_md = default
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = $eku
subjectAltName = $san
CNF
  openssl genpkey -algorithm ed25519 -out "$prefix.key"
  local cn=${uri#mir://}; cn=${cn//\//.}
  openssl req -new -key "$prefix.key" -subj "/CN=$cn" -out "$db/req.csr"
  local dates=(-days 825)
  [[ -n "$start" ]] && dates=(-startdate "$start" -enddate "$end")
  openssl ca -batch -notext -config "$db/ca.cnf" -extensions leaf "${dates[@]}" \
    -in "$db/req.csr" -out "$prefix.crt" 2>"$db/err" || { cat "$db/err" >&2; exit 1; }
}

# issue_enc CA_DIR OUT_PREFIX NODE: an X25519 key OUT_PREFIX.key and its
# encryption certificate OUT_PREFIX.crt (mir://NODE/node, keyAgreement only).
# An X25519 key cannot sign a request, so `x509 -new -force_pubkey` certifies
# the public key as it is (OpenSSL 3.0). Both files appear whole or not at all.
issue_enc() {
  local ca_dir=$1 prefix=$2 node=$3
  local tmp="$work/enc.$RANDOM$RANDOM"; mkdir -p "$tmp"
  if [[ ! -f "$prefix.key" ]]; then
    rm -f "$prefix.crt"  # certifies a key that is gone
    openssl genpkey -algorithm x25519 -out "$prefix.key.tmp"
    mv "$prefix.key.tmp" "$prefix.key"
  fi
  [[ -f "$prefix.crt" ]] && return 0
  openssl pkey -in "$prefix.key" -pubout -out "$tmp/pub"
  cat > "$tmp/ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
subjectAltName = URI:mir://$node/node
EXT
  openssl x509 -new -force_pubkey "$tmp/pub" -subj "/CN=$node.enc" \
    -CA "$ca_dir/ca.crt" -CAkey "$ca_dir/ca.key" -days 825 -extfile "$tmp/ext" \
    -out "$prefix.crt.tmp" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  mv "$prefix.crt.tmp" "$prefix.crt"
}

# make_crl CA_DIR OUT [LAST NEXT] [CERT ...]: a CRL signed by CA_DIR revoking
# each CERT, made with `openssl ca -gencrl`. LAST/NEXT: lastUpdate and
# nextUpdate (YYYYMMDDHHMMSSZ), "" for now / +30 days. Kept when it exists.
make_crl() {
  local ca_dir=$1 path=$2 last=$3 next=$4; shift 4
  [[ -f "$path" ]] && return 0
  local db="$work/crl.$RANDOM$RANDOM"; mkdir -p "$db"; : > "$db/index.txt"
  cat > "$db/ca.cnf" <<CNF
[ca]
default_ca = dev
[dev]
database = $db/index.txt
certificate = $ca_dir/ca.crt
private_key = $ca_dir/ca.key
default_md = default
default_crl_days = 30
CNF
  local cert
  for cert in "$@"; do
    openssl ca -batch -config "$db/ca.cnf" -revoke "$cert" -crl_reason keyCompromise \
      2>"$db/err" || { cat "$db/err" >&2; exit 1; }
  done
  local dates=()
  [[ -n "$last" ]] && dates=(-crl_lastupdate "$last" -crl_nextupdate "$next")
  openssl ca -batch -gencrl -config "$db/ca.cnf" "${dates[@]}" -out "$path.tmp" \
    2>"$db/err" || { cat "$db/err" >&2; exit 1; }
  mv "$path.tmp" "$path"
}

# make_web_ca DIR: the ECDSA P-256 CA of the consoles' HTTPS, DIR/web-ca.{key,crt}.
# Apart from the network CA: it vouches for web servers, never for a mir:// identity.
make_web_ca() {
  local dir=$1
  [[ -f "$dir/web-ca.crt" ]] && return 0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/web-ca.key"
  openssl req -new -x509 -key "$dir/web-ca.key" -out "$dir/web-ca.crt" -days 3650 \
    -subj "/O=MIR Exchange development/CN=MIR Exchange development web CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# issue_https CA_DIR OUT_PREFIX CN: an ECDSA P-256 server certificate for
# localhost and 127.0.0.1 signed by CA_DIR/web-ca.
issue_https() {
  local ca_dir=$1 prefix=$2 cn=$3
  [[ -f "$prefix.crt" ]] && return 0
  local tmp="$work/https.$RANDOM$RANDOM"; mkdir -p "$tmp"
  cat > "$tmp/ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
EXT
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$prefix.key"
  openssl req -new -key "$prefix.key" -subj "/CN=$cn" -out "$tmp/req.csr"
  openssl x509 -req -in "$tmp/req.csr" -CA "$ca_dir/web-ca.crt" -CAkey "$ca_dir/web-ca.key" \
    -CAcreateserial -CAserial "$tmp/serial" -days 825 -extfile "$tmp/ext" \
    -out "$prefix.crt.tmp" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  mv "$prefix.crt.tmp" "$prefix.crt"
}

# make_kek PATH: 32 random bytes as hex, mode 0600 (the broker refuses any
# other mode). Never replaced: the keys wrapped under it would be lost.
make_kek() {
  local path=$1
  [[ -f "$path" ]] && return 0
  openssl rand -hex 32 > "$path.tmp"
  chmod 600 "$path.tmp"
  mv "$path.tmp" "$path"
}

make_ca "$out" "MIR Exchange development CA"
make_web_ca "$out"
for node in "${nodes[@]}"; do
  valid_node "$node" || { echo "invalid node id: $node" >&2; exit 2; }
  mkdir -p "$out/$node"
  issue "$out" "$out/$node/node" "mir://$node/node" "" "" server
  issue "$out" "$out/$node/operator" "mir://$node/operator/op1" "" ""
  issue "$out" "$out/$node/partner" "mir://$node/partner/shelter1" "" ""
  issue_enc "$out" "$out/$node/enc" "$node"
  issue "$out" "$out/$node/console" "mir://$node/console" "" "" "" clientAuth
  issue_https "$out" "$out/$node/console-https" "$node.console"
  make_kek "$out/$node/kek.hex"
  mkdir -p "$out/enc"
  cmp -s "$out/$node/enc.crt" "$out/enc/$node.crt" || cp "$out/$node/enc.crt" "$out/enc/$node.crt"
done

# OUT_DIR/authority/registry.{crt,key}: mir://authority/registry, the network
# authority. It signs the node registry (PROTOCOL.md §12) and nothing else: its
# URI is no node, operator or partner identity, so TLS and envelopes refuse it.
mkdir -p "$out/authority"
issue "$out" "$out/authority/registry" "mir://authority/registry" "" ""

# For tests: certificates that must be refused.
t="$out/test"
issue "$out" "$t/expired-authority" "mir://authority/registry" 20200101000000Z 20210101000000Z
issue "$out" "$t/expired" "mir://toscana/operator/expired" 20200101000000Z 20210101000000Z
issue "$out" "$t/not-yet-valid" "mir://toscana/operator/future" 20900101000000Z 20910101000000Z
issue "$out" "$t/wrong-role" "mir://toscana/auditor/op1" "" ""
issue "$out" "$t/expired-node" "mir://toscana/node" 20200101000000Z 20210101000000Z server
issue "$out" "$t/lombardia-partner2" "mir://lombardia/partner/shelter2" "" ""
issue "$out" "$t/not-yet-valid-node" "mir://toscana/node" 20900101000000Z 20910101000000Z server
# A node no configuration names: valid chain, but nobody routes to it.
issue "$out" "$t/unknown-node" "mir://veneto/node" "" "" server
issue "$out" "$t/unknown-operator" "mir://veneto/operator/op1" "" ""
mkdir -p "$t/other-ca"
make_ca "$t/other-ca" "Some other CA"
issue "$t/other-ca" "$t/other-ca-operator" "mir://toscana/operator/op1" "" ""
issue "$t/other-ca" "$t/other-ca-node" "mir://toscana/node" "" "" server
issue_enc "$t/other-ca" "$t/other-ca-enc" toscana
# A second certificate of nvn's, for tests of a node certificate rotation.
issue "$out" "$t/nvn-node-2" "mir://nvn/node" "" "" server
# Revoked on purpose: listed in crl.pem (and in the stale copy).
issue "$out" "$t/revoked-operator" "mir://toscana/operator/revoked" "" ""
issue "$out" "$t/revoked-node" "mir://toscana/node" "" "" server
make_crl "$out" "$out/crl.pem" "" "" "$t/revoked-operator.crt" "$t/revoked-node.crt"
make_crl "$out" "$out/crl-empty.pem" "" ""
make_crl "$out" "$t/stale-crl.pem" 20200101000000Z 20200201000000Z \
  "$t/revoked-operator.crt" "$t/revoked-node.crt"
make_crl "$t/other-ca" "$t/other-ca/crl.pem" "" ""
echo "development PKI ready in $out (nodes: ${nodes[*]})"
