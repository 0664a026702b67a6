#!/usr/bin/env bash
# The README's first command. Installs what is missing, builds, brings up a
# demo network on loopback (nvn, toscana, lombardia) and runs one complete
# Messa in Rete through it with mirctl, printing every command it runs.
#
#   scripts/demo.sh          set up, start the network, run the MIR, leave it running
#   scripts/demo.sh stop     stop the network (data stays in .mir-demo/)
#   scripts/demo.sh reset    stop it and delete .mir-demo/ (PKI, databases, logs)
#
# Beside each node it starts the node's web console, mir-console (docs/CONSOLE.md),
# and prints at the end each console's address and whose certificate to sign in with.
#
# MIR_DEMO_PORT (default 7101) is the first of three consecutive ports, one per
# node; the consoles listen on MIR_DEMO_PORT+342.. (7443 nvn, 7444 toscana,
# 7445 lombardia by default).
# MIR_DEMO_DIR (default .mir-demo) holds the PKI, configs, databases and logs.
# MIR_DEMO_SKIP_SETUP=1 skips install and build (the demo test in CTest);
# MIR_DEMO_BUILD_DIR (default build) is where the binaries are taken from.
# MIR_DEMO_NO_MIR=1 starts the network and the consoles without playing the
# mirctl MIR (the browser test plays its own).
# MIR_DEMO_ACK_TIMEOUT_S sets every node's emergencyAckTimeoutS (default: the
# node's own, 900 s), so an emergency's alarm can be seen sooner.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=${MIR_DEMO_DIR:-$root/.mir-demo}
shown=${demo#"$root"/}  # as the hints print it: relative inside the checkout
base=${MIR_DEMO_PORT:-7101}
run_as=scripts/demo.sh  # how the hints call this script again
[[ -z "${MIR_DEMO_DIR:-}" ]] || run_as="MIR_DEMO_DIR=$demo $run_as"
[[ -z "${MIR_DEMO_PORT:-}" ]] || run_as="MIR_DEMO_PORT=$base $run_as"
nodes=(nvn toscana lombardia)
declare -A port=([nvn]=$base [toscana]=$((base + 1)) [lombardia]=$((base + 2)))
declare -A console_port=([nvn]=$((base + 342)) [toscana]=$((base + 343)) [lombardia]=$((base + 344)))

stop_network() {
  for name in "${nodes[@]/#/console-}" "${nodes[@]}"; do
    local pidfile=$demo/run/$name.pid
    [[ -f $pidfile ]] || continue
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  done
}

case "${1:-run}" in
  stop) stop_network; echo "demo network stopped (data kept in $shown/)"; exit 0 ;;
  reset) stop_network; rm -rf "$demo"; echo "demo network stopped and $demo deleted"; exit 0 ;;
  run) ;;
  *) echo "usage: scripts/demo.sh [run|stop|reset]" >&2; exit 2 ;;
esac

if [[ -z "${MIR_DEMO_SKIP_SETUP:-}" ]]; then
  scripts/setup.sh
  scripts/build.sh mir-broker mirctl mir-console
fi
bin=${MIR_DEMO_BUILD_DIR:-$root/build}
broker=$bin/broker/mir-broker
mirctl_bin=$bin/client/mirctl
console_bin=$bin/console/mir-console

stop_network
mkdir -p "$demo"/{config,logs,run}
# The broker refuses a data folder that other users can read.
mkdir -p "$demo/data" && chmod 700 "$demo/data"
certs/make-dev-pki.sh "$demo/pki" lombardia >/dev/null

ack_timeout=
[[ -n "${MIR_DEMO_ACK_TIMEOUT_S:-}" ]] && ack_timeout="\"emergencyAckTimeoutS\": ${MIR_DEMO_ACK_TIMEOUT_S},"
write_config() {  # write_config NODE PEERS_JSON ROUTES_JSON RELAY
  cat > "$demo/config/$1.json" <<JSON
{
  "nodeId": "$1",$ack_timeout
  "listenAddress": "127.0.0.1:${port[$1]}",
  "databasePath": "$demo/data/$1.db",
  "caCertificate": "$demo/pki/ca.crt",
  "nodeCertificate": "$demo/pki/$1/node.crt",
  "nodeKey": "$demo/pki/$1/node.key",
  "peers": $2,
  "routes": $3,
  "relay": $4,
  "statisticsReportS": 5,
  "privacy": {
    "encryptionKeys": [{"key": "$demo/pki/$1/enc.key", "certificate": "$demo/pki/$1/enc.crt"}],
    "encryptionCertificatesDir": "$demo/pki/enc",
    "keyEncryptionKey": "$demo/pki/$1/kek.hex",
    "retentionDays": {"CLOSED_POSITIVE": 365, "CLOSED_NEGATIVE": 365, "REJECTED": 365, "WITHDRAWN": 30}
  },
  "console": {
    "listenAddress": "127.0.0.1:${console_port[$1]}",
    "origin": "https://127.0.0.1:${console_port[$1]}",
    "httpsCertificate": "$demo/pki/$1/console-https.crt",
    "httpsKey": "$demo/pki/$1/console-https.key",
    "certificate": "$demo/pki/$1/console.crt",
    "key": "$demo/pki/$1/console.key",
    "brokerAddress": "127.0.0.1:${port[$1]}"
  }
}
JSON
}
write_config nvn "{\"toscana\": \"127.0.0.1:${port[toscana]}\", \"lombardia\": \"127.0.0.1:${port[lombardia]}\"}" "{}" true
write_config toscana "{\"nvn\": \"127.0.0.1:${port[nvn]}\"}" '{"*": "nvn"}' false
write_config lombardia "{\"nvn\": \"127.0.0.1:${port[nvn]}\"}" '{"*": "nvn"}' false

for node in "${nodes[@]}"; do
  nohup "$broker" --config "$demo/config/$node.json" >>"$demo/logs/$node.log" 2>&1 &
  echo $! > "$demo/run/$node.pid"
done

# mirctl as NODE/ROLE against that node.
as() {
  local who=$1; shift
  "$mirctl_bin" --node "127.0.0.1:${port[${who%%/*}]}" --pki "$demo/pki" --as "$who" "$@"
}
# Shows the command (bold on a terminal), then runs it.
bold=; plain=
if [[ -t 1 ]]; then bold=$'\033[1m'; plain=$'\033[0m'; fi
step() {
  local who=$1; shift
  printf '\n%s$ mirctl --as %s %s%s\n' "$bold" "$who" "$*" "$plain"
  as "$who" "$@"
}
# Waits until NODE/ROLE sees referral ID in STATE.
wait_state() {
  local listed
  for _ in $(seq 100); do
    # Not "list | grep -q": grep leaves at the first match, and a long list
    # (a demo folder used many times) then dies of SIGPIPE, failing the pipe.
    listed=$(as "$1" list --state "$3" --json 2>/dev/null) || listed=
    [[ $listed == *"$2"* ]] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $2 to reach $3 at ${1%%/*}; see $demo/logs/" >&2
  exit 1
}

for node in "${nodes[@]}"; do
  for _ in $(seq 100); do as "$node/operator" list >/dev/null 2>&1 && break; sleep 0.1; done
  as "$node/operator" list >/dev/null || { echo "node $node did not start; see $demo/logs/$node.log" >&2; exit 1; }
done
echo "demo network up: nvn :${port[nvn]}, toscana :${port[toscana]}, lombardia :${port[lombardia]}"

# One web console per node, beside it (docs/CONSOLE.md).
consoles=0
if [[ -x $console_bin ]]; then
  for node in "${nodes[@]}"; do
    nohup "$console_bin" --config "$demo/config/$node.json" >>"$demo/logs/console-$node.log" 2>&1 &
    echo $! > "$demo/run/console-$node.pid"
  done
  for node in "${nodes[@]}"; do
    url=https://127.0.0.1:${console_port[$node]}
    for _ in $(seq 100); do
      curl -sf --cacert "$demo/pki/web-ca.crt" -o /dev/null "$url/" && break
      sleep 0.1
    done
    curl -sf --cacert "$demo/pki/web-ca.crt" -o /dev/null "$url/" ||
      { echo "the console of $node did not start; see $demo/logs/console-$node.log" >&2; exit 1; }
  done
  consoles=1
  echo "web consoles up: nvn :${console_port[nvn]}, toscana :${console_port[toscana]}, lombardia :${console_port[lombardia]}"
else
  echo "no $console_bin: the web consoles are not started (scripts/build.sh mir-console)" >&2
fi

id=
if [[ -z "${MIR_DEMO_NO_MIR:-}" ]]; then

echo
echo "== 1. A Tuscany operator submits an emergency referral to the national node"
id=$(as toscana/operator submit --to nvn --consent --consent-method WRITTEN \
       --person-code DEMO-TOS-0001 --urgency EMERGENCY_24H --danger HIGH \
       --transfer-reason SAFETY_RISK --service EMERGENCY_SHELTER --gender FEMALE \
       --age-band 18_24 --language pcm --mediator-language pcm \
       --notes "DEMO-NOTE: prefers a female mediator" --json |
     sed -n 's/.*"referralId": *"\([^"]*\)".*/\1/p' | head -1)
[[ -n "$id" ]] || { echo "submission failed" >&2; exit 1; }
echo "$ mirctl --as toscana/operator submit --to nvn --consent ... --urgency EMERGENCY_24H ...   -> referral $id"
wait_state toscana/operator "$id" RECEIVED

echo
echo "== 2. National staff take it into evaluation and route it to Lombardy"
step nvn/operator evaluate "$id"
step nvn/operator forward "$id" --to lombardia
wait_state lombardia/operator "$id" RECEIVED

echo
echo "== 3. Lombardy evaluates it and circulates it to a partner, who proposes a place"
step lombardia/operator evaluate "$id"
step lombardia/operator circulate "$id" --partner mir://lombardia/partner/shelter1
step lombardia/partner propose "$id" --project PRJ-LOM-07 --available-from "$(date -u +%F)"
wait_state toscana/operator "$id" PLACEMENT_PROPOSED

echo
echo "== 4. Tuscany accepts the place and schedules the transfer"
step toscana/operator accept "$id"
wait_state lombardia/operator "$id" PLACEMENT_ACCEPTED
step toscana/operator schedule "$id" --date "$(date -u -d tomorrow +%F)"
wait_state lombardia/partner "$id" TRANSFER_SCHEDULED

echo
echo "== 5. The partner confirms the placement; the national node closes the MIR"
step lombardia/partner confirm "$id" --project PRJ-LOM-07
wait_state nvn/operator "$id" PLACEMENT_CONFIRMED
step nvn/operator close "$id"
for node in toscana lombardia; do wait_state "$node/operator" "$id" CLOSED_POSITIVE; done

for node in toscana nvn lombardia; do
  echo
  echo "== Timeline at $node"
  step "$node/operator" show "$id"
done

echo
echo "== 6. A citizen calls Tuscany about Lombardy; Tuscany sends the report on through nvn"
report_line=$(as toscana/operator report record --channel phone --reporter citizen \
  --reason report --province MI --exploitation labour --persons 4 --language ita \
  --municipality "DEMO-PLACE" --description "DEMO-REPORT: workers sleeping in a warehouse" \
  --contact "DEMO-CONTACT: evenings only")
echo "$ mirctl --as toscana/operator report record --channel phone --reporter citizen ...   -> $report_line"
rid=$(sed -n 's/^report \([0-9a-f-]*\) recorded.*/\1/p' <<<"$report_line" | head -1)
[[ -n "$rid" ]] || { echo "recording the report failed" >&2; exit 1; }
step toscana/operator report triage "$rid" --triage qualified --route-to lombardia
for _ in $(seq 100); do
  as lombardia/operator report show "$rid" >/dev/null 2>&1 && break
  sleep 0.1
done
step lombardia/operator report show "$rid"

echo
echo "== 7. Tuscany needs a Pidgin mediator it does not have; it places the request with nvn, which serves it"
sr_line=$(as toscana/operator service request --kind mediator --language pcm --attendance remote \
  --from "$(date -u -d '+1 day' +%F)" --to "$(date -u -d '+3 days' +%F)" \
  --requester "DEMO-REQUESTER Commissione Territoriale")
echo "$ mirctl --as toscana/operator service request --kind mediator --language pcm ...   -> $sr_line"
sid=$(sed -n 's/^service request \([0-9a-f-]*\) created.*/\1/p' <<<"$sr_line" | head -1)
[[ -n "$sid" ]] || { echo "creating the service request failed" >&2; exit 1; }
step toscana/operator service place "$sid" --to nvn
for _ in $(seq 100); do
  as nvn/operator service show "$sid" >/dev/null 2>&1 && break
  sleep 0.1
done
step nvn/operator service roster put MED-NVN-01 --type mediator --language pcm
step nvn/operator service assign "$sid" --roster MED-NVN-01
for _ in $(seq 100); do
  [[ $(as toscana/operator service show "$sid" 2>/dev/null) == *"at nvn: ASSIGNED"* ]] && break
  sleep 0.1
done
step toscana/operator service show "$sid"

echo
echo "== 8. National statistics: every node reports its months to nvn, which sums them"
# Each node reports every statisticsReportS (5 s here; an hour by default).
for _ in $(seq 300); do
  national=$(as nvn/operator stats --national --json 2>/dev/null) || national=
  [[ $national == *'"toscana"'* && $national == *'"lombardia"'* ]] && break
  sleep 0.1
done
printf '\n%s$ mirctl --as nvn/operator stats --national --raw%s\n' "$bold" "$plain"
as nvn/operator stats --national --raw > "$demo/national-statistics.txt"
sed -n 1,2p "$demo/national-statistics.txt"
sed -n '/^MIR by origin and destination node/,/^total/p' "$demo/national-statistics.txt"
echo "   ... (all of it: $demo/national-statistics.txt; without --raw, counts from 1 to 10 hidden)"

echo
echo "== Privacy: the hub routed it without reading it (docs/PRIVACY.md)"
# Every byte of each node's database files, searched for the person code,
# the note and the report's sealed parts: sealed end to end, and at rest
# everywhere. The contact never left toscana, sealed there too.
for node in toscana nvn lombardia; do
  found=0
  for f in "$demo/data/$node".db*; do
    if grep -aq -e DEMO-TOS-0001 -e DEMO-NOTE -e DEMO-REPORT -e DEMO-PLACE -e DEMO-CONTACT \
      -e DEMO-REQUESTER "$f"; then
      found=1
    fi
  done
  if (( found )); then
    echo "$node: FOUND the person code, a note, a report's or a request's text in clear in its files" >&2; exit 1
  fi
  echo "$node: no person code, note, report or request text in clear in its files"
done
fi  # MIR_DEMO_NO_MIR

if (( consoles )); then
  cat <<TXT

== The web consoles (docs/CONSOLE.md)

  nvn        https://127.0.0.1:${console_port[nvn]}/
  toscana    https://127.0.0.1:${console_port[toscana]}/
  lombardia  https://127.0.0.1:${console_port[lombardia]}/

Their HTTPS certificates are issued by the demo's own web CA: make the browser
trust $demo/pki/web-ca.crt (or accept its warning once per console).
The first time, sign in by importing a certificate and its private key (the
key stays in the browser); then one click signs in:

  as                                  on the console of  certificate and key
  mir://toscana/operator/op1          toscana            $demo/pki/toscana/operator.crt  .key
  mir://nvn/operator/op1              nvn                $demo/pki/nvn/operator.crt  .key
  mir://lombardia/operator/op1        lombardia          $demo/pki/lombardia/operator.crt  .key
  mir://lombardia/partner/shelter1    lombardia          $demo/pki/lombardia/partner.crt  .key
  mir://toscana/partner/shelter1      toscana            $demo/pki/toscana/partner.crt  .key

Each console takes only its own node's operators and partners. One browser
profile keeps one certificate per console; use another profile (or a private
window) for a second person on the same console.
TXT
fi

cat <<TXT

The demo network is still running. Try, for example:

  build/client/mirctl --node 127.0.0.1:${port[toscana]} --pki $shown/pki --as toscana/operator list
  build/client/mirctl --node 127.0.0.1:${port[nvn]} --pki $shown/pki --as nvn/operator show ${id:-ID}
  build/client/mirctl --node 127.0.0.1:${port[toscana]} --pki $shown/pki --as toscana/operator submit --help
  build/client/mirctl --node 127.0.0.1:${port[lombardia]} --pki $shown/pki --as lombardia/operator watch

Or set MIR_NODE, MIR_PKI=$shown/pki and MIR_AS once and drop the flags.
Logs: $shown/logs/  Databases: $shown/data/
Stop the network:  $run_as stop      (start it afresh: $run_as)
TXT
