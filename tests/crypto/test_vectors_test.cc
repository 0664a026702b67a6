// proto/testvectors/v1.txt is what another implementation checks itself
// against; this test proves our code agrees with every value in it.

#include <sodium.h>

#include <fstream>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "crypto/receipt.h"
#include "crypto/sealing.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/report.pb.h"
#include "mir/v1/service_request.pb.h"
#include "tests/crypto/crypto_fixtures.h"

namespace mir::testing {
namespace {

std::map<std::string, std::string> LoadVectors() {
  std::ifstream in(SourcePath("proto/testvectors/v1.txt"));
  EXPECT_TRUE(in.good()) << "missing proto/testvectors/v1.txt";
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(": ", 1));
    out[kv.first] = kv.second;
  }
  return out;
}

std::string DerToPem(const std::string& der) {
  std::string b64 = absl::Base64Escape(der), pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END CERTIFICATE-----\n";
}

class TestVectors : public ::testing::Test {
 protected:
  std::string Bytes(const std::string& key) {
    EXPECT_TRUE(v_.count(key)) << key;
    std::string bytes = FromHex(v_[key]);
    EXPECT_FALSE(bytes.empty()) << key;
    return bytes;
  }
  std::map<std::string, std::string> v_ = LoadVectors();
  FakeClock clock_{absl::FromUnixSeconds(std::stoll(v_["verify_at_unix"]))};
};

TEST_F(TestVectors, SignedBytesAreTheDocumentedConcatenation) {
  const std::string header = Bytes("header"), body = Bytes("body");
  EXPECT_EQ(SignedBytes(header, body), Bytes("signed_bytes"));
  // Spelled out as PROTOCOL.md §3 does: tag, NUL, u64be lengths.
  std::string manual = "MIR-EXCHANGE/v1/envelope";
  manual.push_back('\0');
  for (const std::string* part : {&header, &body}) {
    for (int shift = 56; shift >= 0; shift -= 8)
      manual.push_back(static_cast<char>(part->size() >> shift));
    manual += *part;
  }
  EXPECT_EQ(manual, Bytes("signed_bytes"));
}

TEST_F(TestVectors, FixedSeedGivesTheFixedSignature) {
  auto author = Signer::FromSeed(Bytes("author_seed"), Bytes("author_certificate_der"));
  ASSERT_OK(author);
  EXPECT_EQ((*author)->identity().Uri(), v_["author_identity_text"]);
  EXPECT_EQ(ToHex(*(*author)->Sign(Bytes("signed_bytes"))), v_["signature"]);
}

TEST_F(TestVectors, EnvelopeHoldsTheVectorPartsAndHashes) {
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(Bytes("envelope")));
  EXPECT_EQ(envelope.header(), Bytes("header"));
  EXPECT_EQ(envelope.body(), Bytes("body"));
  EXPECT_EQ(envelope.signature().algorithm(), v1::ED25519);
  EXPECT_EQ(envelope.signature().certificate(), Bytes("author_certificate_der"));
  EXPECT_EQ(envelope.signature().value(), Bytes("signature"));
  EXPECT_EQ(ToHex(Sha256(Bytes("envelope"))), v_["envelope_sha256"]);

  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  EXPECT_EQ(header.kind(), v1::REFERRAL);
  EXPECT_EQ(header.sender_node(), "toscana");
  EXPECT_EQ(header.recipient_node(), "nvn");
  EXPECT_EQ(header.author(), "mir://toscana/operator/anna");
  EXPECT_EQ(header.sequence(), 1u);
  v1::Referral referral;
  ASSERT_TRUE(referral.ParseFromString(envelope.body()));
  EXPECT_EQ(referral.referral_id(), header.referral_id());
  EXPECT_TRUE(referral.consent().given());
}

TEST_F(TestVectors, EnvelopeVerifiesAgainstTheVectorCa) {
  auto verifier = Verifier::FromCaPem(DerToPem(Bytes("ca_certificate_der")), &clock_);
  ASSERT_OK(verifier);
  auto verified = (*verifier)->Verify(Bytes("envelope"));
  ASSERT_OK(verified);
  EXPECT_EQ(verified->author.Uri(), v_["author_identity_text"]);
  EXPECT_EQ(ToHex(verified->envelope_sha256), v_["envelope_sha256"]);
  // ...and not against our development CA.
  auto dev = MakeVerifier(&clock_);
  EXPECT_THAT(MIR_STATUS(dev->Verify(Bytes("envelope"))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::UNTRUSTED_CERTIFICATE));
}

TEST_F(TestVectors, ReceiptVectorSignsAndVerifies) {
  auto node = Signer::FromSeed(Bytes("node_seed"), Bytes("node_certificate_der"));
  ASSERT_OK(node);
  EXPECT_EQ((*node)->identity().Uri(), "mir://nvn/node");
  EXPECT_EQ(ToHex(*(*node)->Sign(SignedBytes(Bytes("receipt_header"), Bytes("receipt_body")))),
            v_["receipt_signature"]);

  auto verifier = Verifier::FromCaPem(DerToPem(Bytes("ca_certificate_der")), &clock_);
  ASSERT_OK(verifier);
  v1::EnvelopeHeader original;
  v1::Envelope envelope;
  envelope.ParseFromString(Bytes("envelope"));
  original.ParseFromString(envelope.header());
  auto receipt = VerifyReceipt(**verifier, Bytes("receipt_envelope"), "nvn", original.message_id(),
                               Bytes("envelope_sha256"));
  ASSERT_OK(receipt);
  ASSERT_EQ(receipt->entries_size(), 1);
  EXPECT_EQ(ToHex(receipt->entries(0).envelope_sha256()), v_["envelope_sha256"]);
}

// PROTOCOL.md §10.8: nvn's RECEIVED answers for the referral vector and a
// second referral, one signature for both.
TEST_F(TestVectors, ReceivedAnswersVectorSignsAndVerifies) {
  auto node = Signer::FromSeed(Bytes("node_seed"), Bytes("node_certificate_der"));
  ASSERT_OK(node);
  EXPECT_EQ(ToHex(*(*node)->Sign(
                SignedBytes(Bytes("received_answers_header"), Bytes("received_answers_body")))),
            v_["received_answers_signature"]);

  auto verifier = Verifier::FromCaPem(DerToPem(Bytes("ca_certificate_der")), &clock_);
  ASSERT_OK(verifier);
  auto verified = (*verifier)->Verify(Bytes("received_answers_envelope"));
  ASSERT_OK(verified);
  EXPECT_EQ(verified->header.kind(), v1::RECEIVED_ANSWERS);
  EXPECT_EQ(verified->author.Uri(), "mir://nvn/node");
  EXPECT_TRUE(verified->header.referral_id().empty());
  EXPECT_EQ(verified->header.sequence(), 0u);
  v1::ReceivedAnswers answers;
  ASSERT_TRUE(answers.ParseFromString(verified->body));
  ASSERT_EQ(answers.answers_size(), 2);
  v1::Envelope referral_envelope;
  v1::EnvelopeHeader referral_header;
  ASSERT_TRUE(referral_envelope.ParseFromString(Bytes("envelope")));
  ASSERT_TRUE(referral_header.ParseFromString(referral_envelope.header()));
  EXPECT_EQ(answers.answers(0).referral_id(), referral_header.referral_id());
  EXPECT_EQ(answers.answers(0).submitted_message_id(), referral_header.message_id());
  EXPECT_EQ(answers.answers(0).sequence(), 1u);
}

TEST_F(TestVectors, SealedReferralVectorSealsAndOpens) {
  const SecretKey key(Bytes("sealed_referral_key"));
  const std::string purpose = v_["sealed_referral_purpose_text"];
  const std::string referral_id = v_["sealed_referral_referral_id_text"];
  EXPECT_EQ(purpose, kSealedReferralPurpose);
  EXPECT_EQ(ToHex(ReferralKeyId(key)), v_["sealed_referral_key_id"]);

  // The associated data, spelled out as PROTOCOL.md §11.2 does.
  std::string aad = "mir-exchange/v1 sealed";
  aad.push_back('\0');
  aad += purpose;
  aad.push_back('\0');
  aad += referral_id;
  aad.push_back('\0');
  aad += Bytes("sealed_referral_key_id");
  EXPECT_EQ(ToHex(aad), v_["sealed_referral_aad"]);

  // Seal with the fixed nonce gives the vector's bytes...
  auto sealed = Seal(key, purpose, referral_id, Bytes("sealed_referral_plaintext"),
                     Bytes("sealed_referral_nonce"));
  ASSERT_OK(sealed);
  EXPECT_EQ(ToHex(sealed->key_id()), v_["sealed_referral_key_id"]);
  EXPECT_EQ(ToHex(sealed->nonce()), v_["sealed_referral_nonce"]);
  EXPECT_EQ(ToHex(sealed->ciphertext()), v_["sealed_referral_ciphertext"]);
  EXPECT_EQ(ToHex(sealed->SerializeAsString()), v_["sealed_referral_sealed"]);

  // ...which libsodium itself opens with the vector's associated data.
  const std::string ciphertext = Bytes("sealed_referral_ciphertext");
  const std::string nonce = Bytes("sealed_referral_nonce");
  std::string plaintext(ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long plaintext_len = 0;
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(plaintext.data()), &plaintext_len, nullptr,
                reinterpret_cast<const unsigned char*>(ciphertext.data()), ciphertext.size(),
                reinterpret_cast<const unsigned char*>(aad.data()), aad.size(),
                reinterpret_cast<const unsigned char*>(nonce.data()),
                reinterpret_cast<const unsigned char*>(key.bytes().data())),
            0);
  EXPECT_EQ(ToHex(plaintext), v_["sealed_referral_plaintext"]);

  // Open gives the SealedReferral, whose bytes merge into a Referral as they are.
  v1::Sealed vector_sealed;
  ASSERT_TRUE(vector_sealed.ParseFromString(Bytes("sealed_referral_sealed")));
  auto opened = Open(key, purpose, referral_id, vector_sealed);
  ASSERT_OK(opened);
  v1::SealedReferral fields;
  ASSERT_TRUE(fields.ParseFromString(*opened));
  EXPECT_EQ(fields.person_code(), "TV-SEALED-PERSON-0042");
  v1::Referral referral;
  ASSERT_TRUE(referral.ParseFromString(*opened));
  EXPECT_EQ(referral.person_code(), "TV-SEALED-PERSON-0042");
  EXPECT_EQ(referral.origin_case_ref(), fields.origin_case_ref());
  // The vector's referral is the envelope's.
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(Bytes("envelope")));
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  EXPECT_EQ(header.referral_id(), referral_id);
}

// PROTOCOL.md §14.6: a report's RECORDED event, signed by a node, and its
// sealed part.
TEST_F(TestVectors, ReportEventVectorSignsAndVerifies) {
  auto node = Signer::FromSeed(Bytes("node_seed"), Bytes("node_certificate_der"));
  ASSERT_OK(node);
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(Bytes("report_event_header")));
  auto envelope = (*node)->SignEnvelope(header, Bytes("report_event_body"));
  ASSERT_OK(envelope);
  EXPECT_EQ(ToHex(*envelope), v_["report_event_envelope"]);
  auto verifier = Verifier::FromCaPem(DerToPem(Bytes("ca_certificate_der")), &clock_);
  ASSERT_OK(verifier);
  auto verified = (*verifier)->Verify(Bytes("report_event_envelope"));
  ASSERT_OK(verified);
  EXPECT_EQ(verified->header.kind(), v1::REPORT_EVENT);
  v1::SignedReportEvent event;
  ASSERT_TRUE(event.ParseFromString(verified->body));
  EXPECT_EQ(event.report_id(), v_["report_sealed_report_id_text"]);
  EXPECT_EQ(event.report_id(), verified->header.referral_id());
  EXPECT_EQ(event.event().sealed_sha256(), Sha256(Bytes("report_sealed_sealed")));
}

TEST_F(TestVectors, ReportSealedPartSealsAndOpens) {
  const SecretKey key(Bytes("sealed_referral_key"));
  auto sealed = Seal(key, v_["report_sealed_purpose_text"], v_["report_sealed_report_id_text"],
                     Bytes("report_sealed_plaintext"), Bytes("sealed_referral_nonce"));
  ASSERT_OK(sealed);
  EXPECT_EQ(ToHex(sealed->ciphertext()), v_["report_sealed_ciphertext"]);
  EXPECT_EQ(ToHex(sealed->SerializeAsString()), v_["report_sealed_sealed"]);
  auto opened = Open(key, "report", v_["report_sealed_report_id_text"], *sealed);
  ASSERT_OK(opened);
  v1::ReportPrivate part;
  ASSERT_TRUE(part.ParseFromString(*opened));
  EXPECT_EQ(part.description(), "test vector: no real person");
}

// PROTOCOL.md §15.5: a service request's sealed part, and a SERVICE_UPDATE
// signed by the node serving it.
TEST_F(TestVectors, ServiceSealedPartSealsAndOpens) {
  const SecretKey key(Bytes("sealed_referral_key"));
  auto sealed = Seal(key, v_["service_sealed_purpose_text"], v_["service_sealed_request_id_text"],
                     Bytes("service_sealed_plaintext"), Bytes("sealed_referral_nonce"));
  ASSERT_OK(sealed);
  EXPECT_EQ(ToHex(sealed->ciphertext()), v_["service_sealed_ciphertext"]);
  EXPECT_EQ(ToHex(sealed->SerializeAsString()), v_["service_sealed_sealed"]);
  auto opened = Open(key, "service-request", v_["service_sealed_request_id_text"], *sealed);
  ASSERT_OK(opened);
  v1::ServiceRequestPrivate part;
  ASSERT_TRUE(part.ParseFromString(*opened));
  EXPECT_EQ(part.notes(), "test vector: no real person");
}

// A node's envelope vector: signed again from its header and body it is the
// same bytes, and it verifies as `kind` from mir://nvn/node.
class NodeEnvelopeVectors : public TestVectors {
 protected:
  absl::StatusOr<VerifiedEnvelope> Check(const std::string& name, v1::MessageKind kind) {
    auto node = Signer::FromSeed(Bytes("node_seed"), Bytes("node_certificate_der"));
    if (!node.ok()) return node.status();
    v1::Envelope parsed;
    EXPECT_TRUE(parsed.ParseFromString(Bytes(name + "_envelope")));
    EXPECT_EQ(parsed.body(), Bytes(name + "_body"));
    v1::EnvelopeHeader header;
    EXPECT_TRUE(header.ParseFromString(parsed.header()));
    auto again = (*node)->SignEnvelope(header, parsed.body());
    if (!again.ok()) return again.status();
    EXPECT_EQ(ToHex(*again), v_[name + "_envelope"]);
    auto verifier = Verifier::FromCaPem(DerToPem(Bytes("ca_certificate_der")), &clock_);
    if (!verifier.ok()) return verifier.status();
    auto verified = (*verifier)->Verify(Bytes(name + "_envelope"));
    if (verified.ok()) {
      EXPECT_EQ(verified->header.kind(), kind);
      EXPECT_EQ(verified->author.Uri(), "mir://nvn/node");
    }
    return verified;
  }
};

TEST_F(NodeEnvelopeVectors, ServiceUpdateSignsAndVerifies) {
  auto verified = Check("service_update", v1::SERVICE_UPDATE);
  ASSERT_OK(verified);
  v1::ServiceRequestUpdate update;
  ASSERT_TRUE(update.ParseFromString(verified->body));
  EXPECT_EQ(update.request_id(), v_["service_sealed_request_id_text"]);
  EXPECT_EQ(update.request_id(), verified->header.referral_id());
  EXPECT_EQ(update.state(), v1::SERVICE_ASSIGNED);
  EXPECT_EQ(update.roster_code(), "MED-0007");
}

// PROTOCOL.md §16: a monthly STATISTICS_REPORT, counts only.
TEST_F(NodeEnvelopeVectors, StatisticsReportSignsAndVerifies) {
  auto verified = Check("statistics_report", v1::STATISTICS_REPORT);
  ASSERT_OK(verified);
  v1::StatisticsReport report;
  ASSERT_TRUE(report.ParseFromString(verified->body));
  EXPECT_EQ(report.node_id(), verified->header.sender_node());
  ASSERT_EQ(report.tables_size(), 1);
  EXPECT_EQ(report.tables(0).name(), "mir_by_month");
  EXPECT_EQ(report.tables(0).counts_size(),
            report.tables(0).row_labels_size() * report.tables(0).column_labels_size());
  EXPECT_EQ(verified->header.referral_id(), "");
}

}  // namespace
}  // namespace mir::testing
