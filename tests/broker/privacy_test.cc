// Sealed fields and erasure (PROTOCOL.md §11, docs/PRIVACY.md) across three
// real brokers over loopback mutual TLS, with real SQLite files.

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "broker/stored_bodies.h"
#include "common/files.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "crypto/sealed_referral.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"
#include "tests/testing/enc_cert.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;

// Distinctive, so that a byte scan finds them if they are anywhere in clear.
constexpr char kPersonCode[] = "PC-7f3a9e1b-DISTINCT";
constexpr char kNotes[] = "NOTE-b81c55d0-DISTINCT";
constexpr char kText[] = "TEXT-c4d2e9f7-DISTINCT";

absl::Status WriteFileForTest(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  out.close();
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return out ? absl::OkStatus() : absl::InternalError("cannot write " + path);
}

// The files of `node`'s store (database, WAL, shared memory), whole.
std::string NodeFileBytes(const std::string& dir, const std::string& node) {
  std::string all;
  for (const char* suffix : {".db", ".db-wal", ".db-shm"}) {
    std::ifstream in(dir + "/" + node + suffix, std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

class PrivacyTest : public NetworkTest {
 protected:
  bool SealedStateIs(StaffClient& staff, const std::string& id, v1::SealedState state) {
    return WaitFor([&] {
      auto view = staff.Get(id);
      return view.ok() && view->sealed_state() == state;
    });
  }
  // A referral from toscana routed by nvn to lombardia, its sealed fields
  // opened at lombardia.
  std::string RoutedToLombardia(StaffClient& anna) {
    StaffClient national = Staff("nvn/operator");
    StaffClient lombardia = Staff("lombardia/operator");
    auto id =
        anna.SubmitReferral("nvn", v1::URGENCY_URGENT, true, std::nullopt, kPersonCode, kNotes);
    EXPECT_OK(id);
    if (!id.ok()) return "";
    EXPECT_TRUE(StateIs("nvn", *id, v1::RECEIVED));
    EXPECT_OK(national.Transition(*id, v1::UNDER_EVALUATION));
    EXPECT_OK(national.Transition(*id, v1::SUBMITTED, "lombardia"));
    EXPECT_TRUE(SealedStateIs(lombardia, *id, v1::SEALED_OPEN));
    return *id;
  }
  absl::StatusOr<v1::SubmitResponse> Withdraw(StaffClient& origin, const std::string& id,
                                              v1::WithdrawalReason reason) {
    v1::StatusChange withdrawal;
    withdrawal.set_to_state(v1::WITHDRAWN);
    withdrawal.set_withdrawal_reason(reason);
    return origin.Change(id, withdrawal);
  }
};

// Retention counts days: on a fake clock. (The others run on the real one: a
// sender that found a peer down waits for its clock before it probes again.)
class RetentionTest : public PrivacyTest {
 protected:
  RetentionTest() { clock_ = &fake_; }
  FakeClock fake_{absl::Now()};
};

TEST_F(PrivacyTest, HubRoutesWithoutReadingAndOnlyOriginAndDestinationRead) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient national = Staff("nvn/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  const std::string id = RoutedToLombardia(anna);
  ASSERT_FALSE(id.empty());

  // The destination asks for more information, with free text: sealed.
  ASSERT_OK(lombardia.Transition(id, v1::UNDER_EVALUATION));
  v1::StatusChange ask;
  ask.set_to_state(v1::INFO_REQUESTED);
  ask.set_reason_text(kText);
  ASSERT_OK(lombardia.Change(id, ask));
  ASSERT_TRUE(StateIs("toscana", id, v1::INFO_REQUESTED));
  ASSERT_TRUE(StateIs("nvn", id, v1::INFO_REQUESTED));

  // The destination and the origin read every field and the text.
  for (StaffClient* reader : {&lombardia, &anna}) {
    auto view = reader->Get(id);
    ASSERT_OK(view);
    EXPECT_EQ(view->sealed_state(), v1::SEALED_OPEN);
    EXPECT_EQ(view->referral().person_code(), kPersonCode);
    EXPECT_EQ(view->referral().notes(), kNotes);
    EXPECT_FALSE(view->referral().has_sealed());
    EXPECT_TRUE(absl::StrContains(view->timeline().rbegin()->reason(), kText))
        << view->timeline().rbegin()->reason();
  }
  // The hub routes on the routing fields and reads nothing sealed.
  auto at_hub = national.Get(id);
  ASSERT_OK(at_hub);
  EXPECT_EQ(at_hub->sealed_state(), v1::SEALED_NOT_FOR_THIS_NODE);
  EXPECT_TRUE(at_hub->referral().person_code().empty());
  EXPECT_TRUE(at_hub->referral().notes().empty());
  EXPECT_EQ(at_hub->referral().urgency(), v1::URGENCY_URGENT);
  EXPECT_FALSE(absl::StrContains(at_hub->timeline().rbegin()->reason(), kText));
  // Every node still verifies its whole audit chain.
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    auto chain = Store(node).VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << node << ": " << chain->problem;
  }

  // No byte of the hub's files holds them; no file anywhere holds them in clear.
  brokers_.clear();
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    SCOPED_TRACE(node);
    const std::string bytes = NodeFileBytes(dir_, node);
    ASSERT_GT(bytes.size(), 0u);
    EXPECT_FALSE(absl::StrContains(bytes, kPersonCode));
    EXPECT_FALSE(absl::StrContains(bytes, kNotes));
    EXPECT_FALSE(absl::StrContains(bytes, kText));
  }
}

TEST_F(PrivacyTest, ReferralThatDoesNotOpenUnderItsKeyIsRefused) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  auto op = PkiSigner("toscana/operator");
  const std::string id = NewUuid();
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(SignReferral(*op, id, "lombardia")));
  v1::Referral body;
  ASSERT_TRUE(body.ParseFromString(envelope.body()));
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  std::string& ciphertext = *body.mutable_sealed()->mutable_ciphertext();
  ciphertext[ciphertext.size() / 2] ^= 0x01;
  auto tampered = op->SignEnvelope(header, body.SerializeAsString());
  ASSERT_OK(tampered);
  EXPECT_THAT(MIR_STATUS(NodeAt("toscana").Submit(op->identity(), *tampered, TestReferralKey(id))),
              StatusIsReason(StatusCode::kInvalidArgument, v1::SEALED_TAMPERED));
  // The right envelope under another key, and no key at all.
  const std::string good = SignReferral(*op, id, "lombardia");
  EXPECT_THAT(MIR_STATUS(NodeAt("toscana").Submit(op->identity(), good, TestReferralKey("x"))),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY));
  EXPECT_THAT(MIR_STATUS(NodeAt("toscana").Submit(op->identity(), good)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  // A sealed field in clear is refused by every node: the hub neither takes
  // it in nor relays it.
  v1::Referral clear = body;
  clear.set_person_code(kPersonCode);
  ExchangeClient from_toscana(ports_["nvn"], "toscana/node");
  for (const char* recipient : {"nvn", "lombardia"}) {
    SCOPED_TRACE(recipient);
    header.set_message_id(NewUuid());
    header.set_recipient_node(recipient);
    clear.set_destination_node(recipient);
    auto in_clear = op->SignEnvelope(header, clear.SerializeAsString());
    ASSERT_OK(in_clear);
    EXPECT_THAT(MIR_STATUS(from_toscana.Deliver(*in_clear)),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  }
  EXPECT_EQ(Store("nvn").ListOutbox(std::nullopt, 0)->size(), 0u);
  // Nothing was recorded.
  EXPECT_FALSE(Store("toscana").GetReferral(id)->has_value());
}

// A KEY_RELEASE for lombardia signed by `sender`'s node, to `recipient`.
std::string SignKeyRelease(const std::string& sender, const std::string& recipient,
                           const std::string& referral_id, const SecretKey& key,
                           const std::string& wrap_for) {
  auto node = PkiSigner(sender + "/node");
  auto pem = ReadFile(PkiPath(wrap_for + "/enc.crt"));
  auto ca = ReadFile(PkiPath("ca.crt"));
  EXPECT_OK(pem);
  auto cert = ParseEncryptionCertificate(*pem, *ca, absl::Now());
  EXPECT_OK(cert);
  v1::KeyRelease release;
  release.set_referral_id(referral_id);
  release.set_key_id(ReferralKeyId(key));
  release.set_recipient_node(recipient);
  release.set_recipient_key_id(cert->key_id);
  release.set_wrapped_key(*WrapToRecipient(key, cert->public_key));
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(v1::KEY_RELEASE);
  h.set_recipient_node(recipient);
  *h.mutable_created_at() = ToProtoTime(absl::Now());
  h.set_referral_id(referral_id);
  return *node->SignEnvelope(h, release.SerializeAsString());
}

TEST_F(PrivacyTest, KeyReleaseForAnotherNodeOrKeyIsRefusedAndChangesNothing) {
  StartAll();
  const std::string id = NewUuid();
  const SecretKey key(TestReferralKey(id));
  // Delivered by the relay, as a release from toscana would be.
  ExchangeClient relay(ports_["lombardia"], "nvn/node");
  // Addressed to lombardia, but its body names another recipient.
  v1::Envelope envelope;
  ASSERT_TRUE(
      envelope.ParseFromString(SignKeyRelease("toscana", "lombardia", id, key, "lombardia")));
  auto node = PkiSigner("toscana/node");
  v1::KeyRelease release;
  ASSERT_TRUE(release.ParseFromString(envelope.body()));
  release.set_recipient_node("nvn");
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  EXPECT_THAT(MIR_STATUS(relay.Deliver(*node->SignEnvelope(header, release.SerializeAsString()))),
              StatusIsReason(StatusCode::kInvalidArgument, v1::KEY_NOT_FOR_THIS_NODE));
  // Wrapped to toscana's key: lombardia has no such key.
  EXPECT_THAT(MIR_STATUS(relay.Deliver(SignKeyRelease("toscana", "lombardia", id, key, "toscana"))),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY));
  // A wrapped key that does not match its key id.
  release.set_recipient_node("lombardia");
  release.set_key_id(ReferralKeyId(SecretKey(TestReferralKey("other"))));
  header.set_message_id(NewUuid());
  EXPECT_THAT(MIR_STATUS(relay.Deliver(*node->SignEnvelope(header, release.SerializeAsString()))),
              StatusIsReason(StatusCode::kInvalidArgument, v1::SEALED_TAMPERED));
  // None of them left a key behind.
  absl::Status read = Store("lombardia").Read([&](storage::ReadTxn& txn) -> absl::Status {
    auto held = txn.GetReferralKey(id, ReferralKeyId(key));
    if (!held.ok()) return held.status();
    EXPECT_FALSE(held->has_value());
    return absl::OkStatus();
  });
  EXPECT_OK(read);
}

TEST_F(PrivacyTest, OperatorErasureKeepsTheChainAndSurvivesARestart) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  auto id =
      anna.SubmitReferral("lombardia", v1::URGENCY_URGENT, true, std::nullopt, kPersonCode, kNotes);
  ASSERT_OK(id);
  ASSERT_TRUE(SealedStateIs(lombardia, *id, v1::SEALED_OPEN));

  // A reason is required; then the fields are gone, the history stays.
  EXPECT_THAT(MIR_STATUS(lombardia.Erase(*id, "")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto erased = lombardia.Erase(*id, "DPO request 12");
  ASSERT_OK(erased);
  EXPECT_EQ(erased->erasure().cause(), v1::ERASURE_BY_OPERATOR);
  EXPECT_EQ(erased->erasure().by(), "mir://lombardia/operator/op1");

  StopNode("lombardia");
  ASSERT_TRUE(StartNode("lombardia"));
  auto view = lombardia.Get(*id);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_ERASED);
  EXPECT_TRUE(view->referral().person_code().empty());
  EXPECT_EQ(view->erasure().reason(), "DPO request 12");
  EXPECT_EQ(view->timeline_size(), 2);  // SUBMITTED, RECEIVED: the history stays
  auto chain = Store("lombardia").VerifyAuditChain();
  ASSERT_OK(chain);
  EXPECT_TRUE(chain->ok) << chain->problem;
  // The origin still reads its own copy: erasure is per node.
  auto at_origin = anna.Get(*id);
  ASSERT_OK(at_origin);
  EXPECT_EQ(at_origin->referral().person_code(), kPersonCode);
}

// A region that rejects a referral the national node routed to it has no
// part in it any more (nvn may route it on, and a later purge order would
// not reach it): its copy's sealed fields are erased with the rejection,
// unless a legal hold keeps them. A referral sent to it directly ends with
// the rejection, and its copy waits for retention as before.
TEST_F(PrivacyTest, ARegionThatRejectsARoutedReferralErasesItsCopy) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  auto reject = [&](const std::string& id) {
    ASSERT_OK(lombardia.Transition(id, v1::UNDER_EVALUATION));
    v1::StatusChange rejection;
    rejection.set_to_state(v1::REJECTED);
    rejection.set_rejection_reason(v1::REJECTION_NO_PLACES);
    ASSERT_OK(lombardia.Change(id, rejection));
    ASSERT_TRUE(StateIs("toscana", id, v1::REJECTED));
  };

  const std::string routed = RoutedToLombardia(anna);
  ASSERT_NO_FATAL_FAILURE(reject(routed));
  auto view = lombardia.Get(routed);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_ERASED);
  EXPECT_TRUE(view->referral().person_code().empty());
  EXPECT_EQ(view->erasure().cause(), v1::ERASURE_ON_REJECTION);
  EXPECT_EQ(view->erasure().by(), "mir://lombardia/operator/op1");
  auto at_origin = anna.Get(routed);  // erasure is per node
  ASSERT_OK(at_origin);
  EXPECT_EQ(at_origin->referral().person_code(), kPersonCode);

  const std::string held = RoutedToLombardia(anna);
  ASSERT_OK(lombardia.Hold(held, true, "court order 9/2026"));
  ASSERT_NO_FATAL_FAILURE(reject(held));
  view = lombardia.Get(held);
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().person_code(), kPersonCode);

  auto direct =
      anna.SubmitReferral("lombardia", v1::URGENCY_URGENT, true, std::nullopt, kPersonCode, kNotes);
  ASSERT_OK(direct);
  ASSERT_TRUE(SealedStateIs(lombardia, *direct, v1::SEALED_OPEN));
  ASSERT_NO_FATAL_FAILURE(reject(*direct));
  view = lombardia.Get(*direct);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_OPEN);
}

TEST_F(PrivacyTest, LegalHoldBlocksErasureUntilLifted) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  auto id = anna.SubmitReferral("lombardia");
  ASSERT_OK(id);
  EXPECT_THAT(MIR_STATUS(anna.Hold(*id, true, "")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto held = anna.Hold(*id, true, "court order 7/2026");
  ASSERT_OK(held);
  EXPECT_TRUE(held->legal_hold().held());
  EXPECT_THAT(MIR_STATUS(anna.Erase(*id, "routine")),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::LEGAL_HOLD));
  auto view = anna.Get(*id);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_OPEN);
  EXPECT_TRUE(view->legal_hold().held());
  // A partner may not set one.
  StaffClient partner = Staff("toscana/partner");
  EXPECT_THAT(MIR_STATUS(partner.Hold(*id, false)),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  ASSERT_OK(anna.Hold(*id, false));
  ASSERT_OK(anna.Erase(*id, "routine"));
  view = anna.Get(*id);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_ERASED);
  EXPECT_FALSE(view->legal_hold().held());
}

TEST_F(RetentionTest, ErasesTerminalReferralsPastTheirTimeUnlessHeld) {
  options_["toscana"].retention = {{v1::WITHDRAWN, absl::Hours(24 * 30)}};
  options_["toscana"].retention_sweep_interval = absl::Hours(24 * 365);  // the test sweeps
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  auto kept = anna.SubmitReferral("lombardia");
  auto withdrawn = anna.SubmitReferral("lombardia");
  auto held = anna.SubmitReferral("lombardia");
  ASSERT_OK(kept);
  ASSERT_OK(withdrawn);
  ASSERT_OK(held);
  ASSERT_OK(Withdraw(anna, *withdrawn, v1::WITHDRAWAL_PERSON_LEFT));
  ASSERT_OK(Withdraw(anna, *held, v1::WITHDRAWAL_PERSON_LEFT));
  ASSERT_OK(anna.Hold(*held, true, "investigation"));

  EXPECT_EQ(NodeAt("toscana").SweepRetention().value_or(-1), 0);  // not yet due
  fake_.Advance(absl::Hours(24 * 31));
  EXPECT_EQ(NodeAt("toscana").SweepRetention().value_or(-1), 1);
  auto view = anna.Get(*withdrawn);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_ERASED);
  EXPECT_EQ(view->erasure().cause(), v1::ERASURE_BY_RETENTION);
  EXPECT_EQ(view->erasure().by(), "mir://toscana/node");
  for (const std::string& other : {*kept, *held}) {
    auto open = anna.Get(other);
    ASSERT_OK(open);
    EXPECT_EQ(open->sealed_state(), v1::SEALED_OPEN);
  }
  EXPECT_EQ(NodeAt("toscana").SweepRetention().value_or(-1), 0);  // done once
  StopNode("toscana");
  ASSERT_TRUE(StartNode("toscana"));
  view = anna.Get(*withdrawn);
  ASSERT_OK(view);
  EXPECT_EQ(view->sealed_state(), v1::SEALED_ERASED);
  EXPECT_TRUE(view->referral().person_code().empty());
  auto chain = Store("toscana").VerifyAuditChain();
  ASSERT_OK(chain);
  EXPECT_TRUE(chain->ok) << chain->problem;
}

TEST_F(PrivacyTest, PurgeOrderErasesAtEveryHolderAndTheOriginSeesWhoConfirmed) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient national = Staff("nvn/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  const std::string id = RoutedToLombardia(anna);
  ASSERT_FALSE(id.empty());
  // Lombardy holds it under a legal hold: it answers HELD, erases on lifting.
  ASSERT_OK(lombardia.Hold(id, true, "prosecutor's request"));
  ASSERT_OK(Withdraw(anna, id, v1::WITHDRAWAL_CONSENT_WITHDRAWN));

  auto answers = [&]() -> std::map<std::string, v1::ErasureOutcome> {
    std::map<std::string, v1::ErasureOutcome> out;
    auto view = anna.Get(id);
    if (view.ok()) {
      for (const auto& a : view->erasure_answers()) out[a.node()] = a.outcome();
    }
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return answers().size() == 2; }));
  EXPECT_EQ(answers()["nvn"], v1::ERASURE_DONE);
  EXPECT_EQ(answers()["lombardia"], v1::ERASURE_HELD);
  auto at_origin = anna.Get(id);
  ASSERT_OK(at_origin);
  EXPECT_EQ(at_origin->sealed_state(), v1::SEALED_ERASED);
  EXPECT_EQ(at_origin->erasure().cause(), v1::ERASURE_BY_PURGE_ORDER);
  EXPECT_TRUE(SealedStateIs(national, id, v1::SEALED_ERASED));
  auto at_destination = lombardia.Get(id);
  ASSERT_OK(at_destination);
  EXPECT_EQ(at_destination->referral().person_code(), kPersonCode);

  ASSERT_OK(lombardia.Hold(id, false));
  EXPECT_TRUE(SealedStateIs(lombardia, id, v1::SEALED_ERASED));
  // Its later answer replaces the first at the origin.
  EXPECT_TRUE(WaitFor([&] { return answers()["lombardia"] == v1::ERASURE_DONE; }));
  at_destination = lombardia.Get(id);
  ASSERT_OK(at_destination);
  EXPECT_EQ(at_destination->erasure().cause(), v1::ERASURE_BY_PURGE_ORDER);
  EXPECT_EQ(at_destination->erasure().by(), "mir://toscana/operator/op1");
  for (const char* node : {"toscana", "lombardia"}) {
    StopNode(node);
    ASSERT_TRUE(StartNode(node));
  }
  for (StaffClient* reader : {&anna, &lombardia}) {
    auto after_restart = reader->Get(id);
    ASSERT_OK(after_restart);
    EXPECT_EQ(after_restart->sealed_state(), v1::SEALED_ERASED);
    EXPECT_TRUE(after_restart->referral().person_code().empty());
    EXPECT_TRUE(after_restart->referral().notes().empty());
  }
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    auto chain = Store(node).VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << node << ": " << chain->problem;
  }
}

TEST_F(PrivacyTest, RoutingOnIsRefusedByAnOriginThatCannotReleaseTheKey) {
  // Toscana lacks Lombardy's encryption certificate.
  const std::string certs = CopyEncryptionCertificates(dir_, "lombardia.crt");
  options_["toscana"].encryption_certificates_dir = certs;
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient national = Staff("nvn/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  auto id = anna.SubmitReferral("nvn");
  ASSERT_OK(id);
  ASSERT_TRUE(StateIs("nvn", *id, v1::RECEIVED));
  ASSERT_OK(national.Transition(*id, v1::UNDER_EVALUATION));
  ASSERT_OK(national.Transition(*id, v1::SUBMITTED, "lombardia"));
  // Toscana refuses the routing: the hub's copy to it is a dead letter
  // that says why, and Toscana's referral still goes to the hub.
  // (Lombardy's RECEIVED, relayed after it, is refused too: Toscana does not
  // know Lombardy has it. Both go again once requeued, in their order.)
  ASSERT_TRUE(WaitFor([&] { return OutboxCount(Store("nvn"), storage::OutboxState::kDead) >= 1; }));
  auto dead = Store("nvn").ListOutbox(storage::OutboxState::kDead, 10);
  ASSERT_OK(dead);
  ASSERT_FALSE(dead->empty());
  EXPECT_TRUE(absl::StrContains(dead->front().last_error, "UNKNOWN_KEY"))
      << dead->front().last_error;
  EXPECT_EQ(Store("toscana").GetReferral(*id)->value().meta.destination_node, "nvn");
  ASSERT_TRUE(SealedStateIs(lombardia, *id, v1::SEALED_KEY_ON_ITS_WAY));

  // The certificate put in place, Toscana restarted, the hub requeues.
  std::filesystem::copy_file(PkiPath("enc/lombardia.crt"), certs + "/lombardia.crt");
  StopNode("toscana");
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_OK(Store("nvn").RequeueAllDead());
  NodeAt("nvn").WakeAllSenders();
  EXPECT_TRUE(SealedStateIs(lombardia, *id, v1::SEALED_OPEN));
  EXPECT_EQ(Store("toscana").GetReferral(*id)->value().meta.destination_node, "lombardia");
}

TEST_F(PrivacyTest, ErasureAnswerFromANodeThatNeverHeldTheReferralIsRefused) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  auto id = anna.SubmitReferral("nvn");  // lombardia never hears of it
  ASSERT_OK(id);
  ASSERT_TRUE(StateIs("toscana", *id, v1::RECEIVED));
  v1::ErasureConfirmation answer;
  answer.set_referral_id(*id);
  answer.set_outcome(v1::ERASURE_DONE);
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(v1::ERASURE_CONFIRMATION);
  h.set_recipient_node("toscana");
  *h.mutable_created_at() = ToProtoTime(absl::Now());
  h.set_referral_id(*id);
  auto lombardia_node = PkiSigner("lombardia/node");
  ExchangeClient relay(ports_["toscana"], "nvn/node");
  EXPECT_THAT(
      MIR_STATUS(relay.Deliver(*lombardia_node->SignEnvelope(h, answer.SerializeAsString()))),
      StatusIsReason(StatusCode::kPermissionDenied, v1::NOT_A_HOLDER));
  auto view = anna.Get(*id);
  ASSERT_OK(view);
  EXPECT_EQ(view->erasure_answers_size(), 0);
}

TEST_F(PrivacyTest, RotatedKeysKeepEveryReferralReadable) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  auto before =
      anna.SubmitReferral("lombardia", v1::URGENCY_URGENT, true, std::nullopt, kPersonCode, kNotes);
  ASSERT_OK(before);
  ASSERT_TRUE(SealedStateIs(lombardia, *before, v1::SEALED_OPEN));

  // Lombardy's new encryption key, valid from now on, beside the old one in
  // a certificate folder every node reads; and a new KEK at toscana.
  const std::string certs = CopyEncryptionCertificates(dir_);
  auto rotated = MakeEncryptionCertificateForTesting(PkiPath("ca.crt"), PkiPath("ca.key"),
                                                     "lombardia", absl::Now() - absl::Minutes(1),
                                                     absl::Now() + absl::Hours(24 * 400));
  ASSERT_OK(rotated);
  ASSERT_OK(WriteFileForTest(dir_ + "/lombardia-enc2.key", rotated->first));
  ASSERT_OK(WriteFileForTest(certs + "/lombardia-2.crt", rotated->second));
  ASSERT_OK(WriteFileForTest(dir_ + "/lombardia-enc2.crt", rotated->second));
  ASSERT_OK(WriteNewKeyEncryptionKey(dir_ + "/toscana-kek2.hex"));
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    options_[node].encryption_certificates_dir = certs;
    StopNode(node);
  }
  auto& lombardia_keys = options_["lombardia"].encryption_keys;
  lombardia_keys.insert(lombardia_keys.begin(),
                        {dir_ + "/lombardia-enc2.key", dir_ + "/lombardia-enc2.crt"});
  options_["toscana"].previous_key_encryption_keys = {options_["toscana"].key_encryption_key};
  options_["toscana"].key_encryption_key = dir_ + "/toscana-kek2.hex";
  StartAll();

  auto after = anna.SubmitReferral("lombardia", v1::URGENCY_URGENT, true, std::nullopt,
                                   "PC-after-rotation", kNotes);
  ASSERT_OK(after);
  ASSERT_TRUE(SealedStateIs(lombardia, *after, v1::SEALED_OPEN));
  for (const std::string& id : {*before, *after}) {
    for (StaffClient* reader : {&anna, &lombardia}) {
      auto view = reader->Get(id);
      ASSERT_OK(view);
      EXPECT_EQ(view->sealed_state(), v1::SEALED_OPEN) << id;
      EXPECT_EQ(view->referral().notes(), kNotes);
    }
  }
  // Toscana rewrapped every key at start: the old KEK is no longer needed.
  StopNode("toscana");
  options_["toscana"].previous_key_encryption_keys.clear();
  ASSERT_TRUE(StartNode("toscana"));
  auto view = anna.Get(*before);
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().person_code(), kPersonCode);
}

}  // namespace
}  // namespace mir::testing
