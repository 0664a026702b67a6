// The inbound Exchange path on arbitrary bytes: Node::Deliver (and
// DeliverBatch) at the national node (a relay) from toscana's node, with a
// real SQLite store in a temp dir, exactly as Exchange.Deliver calls it
// after TLS. Each input also
// runs once re-signed under a message id of its own (fuzz_env.h), so
// verified envelopes with fuzzed headers and bodies reach the transaction: inbox, lifecycle, hold
// and release, relay queueing, receipts. Must never crash, leak or hit UB; the store carries over
// from input to input, as a node's does.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "broker/config.h"
#include "broker/node.h"
#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "crypto/sealing.h"
#include "fuzz/fuzz_env.h"
#include "tests/testing/enc_cert.h"

namespace {

mir::broker::Node* node = nullptr;
const mir::Identity kPeer{"toscana", mir::Role::kNode, ""};

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mir::fuzz::Quiet();
  using mir::fuzz::Vector;
  static mir::FakeClock clock(mir::fuzz::VerifyAt());
  const std::string dir = mir::fuzz::TempDir("deliver");
  Write(dir + "/ca.crt", mir::fuzz::CertificatePem(Vector("ca_certificate_der")));
  Write(dir + "/node.crt", mir::fuzz::CertificatePem(Vector("node_certificate_der")));
  Write(dir + "/node.key", mir::fuzz::SeedKeyPem(Vector("node_seed")));
  mir::broker::BrokerOptions o;
  o.node_id = "nvn";
  o.listen_address = "127.0.0.1:0";
  o.database_path = dir + "/nvn.db";
  o.ca_certificate = dir + "/ca.crt";
  o.node_certificate = dir + "/node.crt";
  o.node_key = dir + "/node.key";
  // The CA's key is the RFC 8032 TEST 2 seed (PROTOCOL.md §9): it certifies
  // the node's encryption key as make-dev-pki.sh would.
  Write(dir + "/ca.key", mir::fuzz::SeedKeyPem(mir::FromHex(
                             "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")));
  auto enc = mir::testing::MakeEncryptionCertificateForTesting(dir + "/ca.crt", dir + "/ca.key",
                                                               "nvn", clock.Now() - absl::Hours(1),
                                                               clock.Now() + absl::Hours(24 * 365));
  if (!enc.ok()) __builtin_trap();
  std::filesystem::create_directories(dir + "/enc");
  Write(dir + "/enc.key", enc->first);
  Write(dir + "/enc/nvn.crt", enc->second);
  if (!mir::WriteNewKeyEncryptionKey(dir + "/kek.hex").ok()) __builtin_trap();
  o.encryption_keys = {{dir + "/enc.key", dir + "/enc/nvn.crt"}};
  o.encryption_certificates_dir = dir + "/enc";
  o.key_encryption_key = dir + "/kek.hex";
  o.peers = {{"toscana", "127.0.0.1:9"}, {"lombardia", "127.0.0.1:9"}};
  o.relay = true;
  o.relays = {"nvn"};
  auto created = mir::broker::Node::Create(o, &clock);
  if (!created.ok()) __builtin_trap();
  node = created->release();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)node->Deliver(kPeer, bytes);
  mir::v1::Envelope envelope;
  if (envelope.ParseFromString(bytes)) {
    const std::string resigned = mir::fuzz::Resign(envelope, /*new_message_id=*/true);
    (void)node->Deliver(kPeer, resigned);
    // The batch path: the same envelopes again beside a fresh one, and a
    // repeat inside the batch (PROTOCOL.md §6.2.1).
    (void)node->DeliverBatch(
        kPeer, {bytes, resigned, mir::fuzz::Resign(envelope, /*new_message_id=*/true), bytes});
  }
  return 0;
}
