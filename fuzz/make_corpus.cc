// Writes the seed corpora committed in fuzz/corpus/ (scripts/fuzz.sh corpus):
//   envelope/, deliver/  signed envelopes of every kind, from the test-vector
//                        keys (fuzz_env.h), plus a few malformed ones
//   referral_json/       referral files as mirctl reads them
// Every referral is fictional; ids are fixed so the output is deterministic.
//
//   mir-fuzz-corpus OUT_DIR

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_env.h"
#include "google/protobuf/timestamp.pb.h"
#include "mir/v1/envelope.pb.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/status_change.pb.h"

namespace {

using mir::fuzz::Author;
using mir::fuzz::NationalNode;
using mir::fuzz::Vector;
namespace v1 = mir::v1;

constexpr char kReferralId[] = "8b0e6f52-1d3a-4c7b-a9e4-5f6d7c8b9a01";  // the test vector's

google::protobuf::Timestamp At(absl::Duration before_verify_at) {
  google::protobuf::Timestamp t;
  t.set_seconds(absl::ToUnixSeconds(mir::fuzz::VerifyAt() - before_verify_at));
  return t;
}

std::string MessageId(int n) { return absl::StrCat("00000000-0000-4000-8000-", 100000000000 + n); }

v1::EnvelopeHeader Header(int n, v1::MessageKind kind, const std::string& recipient,
                          uint64_t sequence, const std::string& referral_id = kReferralId) {
  v1::EnvelopeHeader h;
  h.set_message_id(MessageId(n));
  h.set_kind(kind);
  h.set_recipient_node(recipient);
  *h.mutable_created_at() = At(absl::Hours(1));
  h.set_referral_id(referral_id);
  h.set_sequence(sequence);
  return h;
}

std::string Referral(const std::string& id, const std::string& destination) {
  v1::Referral r;  // fictional
  r.set_referral_id(id);
  r.set_origin_node("toscana");
  r.set_destination_node(destination);
  r.set_person_code("FZ-PERSON-0001");
  r.set_origin_case_ref("FZ-CASE-0001");
  r.set_urgency(v1::URGENCY_URGENT);
  r.set_danger_level(v1::DANGER_LEVEL_MEDIUM);
  r.add_requested_services(v1::SERVICE_SECOND_RECEPTION);
  r.add_languages("eng");
  r.set_notes("fictional");
  r.mutable_consent()->set_given(true);
  r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  return r.SerializeAsString();
}

std::string Change(v1::ReferralState to, const std::string& id = kReferralId) {
  v1::StatusChange c;
  c.set_referral_id(id);
  c.set_to_state(to);
  if (to == v1::WITHDRAWN) c.set_withdrawal_reason(v1::WITHDRAWAL_SOLVED_LOCALLY);
  if (to == v1::REJECTED) c.set_rejection_reason(v1::REJECTION_NO_PLACES);
  if (to == v1::CLOSED_NEGATIVE) c.set_closure_reason(v1::CLOSURE_NO_AVAILABILITY);
  return c.SerializeAsString();
}

std::string Signed(const mir::Signer& signer, const v1::EnvelopeHeader& h,
                   const std::string& body) {
  auto e = signer.SignEnvelope(h, body);
  if (!e.ok()) std::abort();
  return *e;
}

void Write(const std::filesystem::path& dir, const std::string& name, const std::string& data) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mir-fuzz-corpus OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  const std::string other_id = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5";

  std::vector<std::pair<std::string, std::string>> envelopes = {
      {"tv-referral-to-nvn", Vector("envelope")},
      {"tv-receipt-from-nvn", Vector("receipt_envelope")},
      {"referral-to-lombardia-relayed",
       Signed(Author(), Header(1, v1::REFERRAL, "lombardia", 1, other_id),
              Referral(other_id, "lombardia"))},
      {"withdrawn-by-origin",
       Signed(Author(), Header(2, v1::STATUS_CHANGE, "nvn", 2), Change(v1::WITHDRAWN))},
      {"change-held-for-a-gap",
       Signed(Author(), Header(3, v1::STATUS_CHANGE, "nvn", 5), Change(v1::INFO_REQUESTED))},
      {"confirmation-by-an-operator",
       Signed(Author(), Header(4, v1::PLACEMENT_CONFIRMATION, "nvn", 3),
              [] {
                v1::PlacementConfirmation c;
                c.set_referral_id(kReferralId);
                c.set_project_ref("FZ-PROJECT");
                *c.mutable_taken_in_charge_at() = At(absl::Hours(2));
                return c.SerializeAsString();
              }())},
      {"received-by-nvn",
       Signed(NationalNode(), Header(5, v1::STATUS_CHANGE, "toscana", 1), Change(v1::RECEIVED))},
      {"routed-on-by-nvn", Signed(NationalNode(), Header(6, v1::STATUS_CHANGE, "lombardia", 3),
                                  [] {
                                    v1::StatusChange c;
                                    c.set_referral_id(kReferralId);
                                    c.set_from_state(v1::UNDER_EVALUATION);
                                    c.set_to_state(v1::SUBMITTED);
                                    v1::Forward* f = c.mutable_forward();
                                    f->set_to_node("lombardia");
                                    f->set_referral_envelope(Vector("envelope"));
                                    v1::StreamPosition* p = f->add_streams();
                                    p->set_sender_node("toscana");
                                    p->set_last_sequence(1);
                                    return c.SerializeAsString();
                                  }())},
      {"received-answers-by-nvn",
       Signed(NationalNode(), Header(7, v1::RECEIVED_ANSWERS, "toscana", 0, ""),
              [&] {
                v1::ReceivedAnswers answers;  // PROTOCOL.md §10.8
                const std::vector<std::string> referrals = {kReferralId, other_id};
                for (size_t i = 0; i < referrals.size(); ++i) {
                  v1::ReceivedAnswer* a = answers.add_answers();
                  a->set_message_id(MessageId(8 + static_cast<int>(i)));
                  a->set_referral_id(referrals[i]);
                  a->set_sequence(1);
                  a->set_submitted_message_id(MessageId(18 + static_cast<int>(i)));
                }
                return answers.SerializeAsString();
              }())},
      {"malformed-short", std::string("\x0a\x05hello", 7)},
      {"malformed-empty", ""},
  };
  v1::Envelope unsigned_envelope;
  unsigned_envelope.ParseFromString(Vector("envelope"));
  unsigned_envelope.clear_signature();
  envelopes.emplace_back("unsigned", unsigned_envelope.SerializeAsString());
  for (const char* target : {"envelope", "deliver"}) {
    for (const auto& [name, data] : envelopes) Write(out / target, name, data);
  }

  const std::vector<std::pair<std::string, std::string>> json = {
      {"documented-example", R"({
  "personCode": "FZ-7Q2M",
  "urgency": "URGENCY_EMERGENCY_24H",
  "dangerLevel": "DANGER_LEVEL_HIGH",
  "requestedServices": ["SERVICE_EMERGENCY_SHELTER"],
  "languages": ["pcm"],
  "consent": {"given": true, "givenAt": "2025-03-01T09:30:00Z", "method": "CONSENT_WRITTEN"}
})"},
      {"snake-case-full", R"({"person_code": "FZ-1", "origin_case_ref": "FZ-CASE",
 "urgency": "URGENCY_URGENT", "danger_level": "DANGER_LEVEL_MEDIUM",
 "transfer_reasons": ["TRANSFER_REASON_SAFETY_RISK"], "excluded_areas": ["IT-52"],
 "preferred_areas": ["IT-25"], "gender": "GENDER_FEMALE", "age_band": "AGE_BAND_18_24",
 "age_basis": "AGE_BASIS_DECLARED", "nationality": "NG", "languages": ["eng", "yor"],
 "mediator_language": "yor", "mediator_same_gender": true,
 "exploitation_types": ["EXPLOITATION_SEXUAL_INDOOR"], "judicial_involvement": false,
 "needs": ["NEED_PSYCHOLOGICAL"], "dependents": {"count": 1},
 "consent": {"given": true, "method": "CONSENT_WRITTEN", "scope": "CONSENT_SCOPE_REFERRAL_AND_ROUTING"},
 "notes": "fictional", "ack_deadline": "2025-03-02T09:30:00Z"})"},
      {"consent-withdrawn", R"({"personCode": "FZ-2", "urgency": "URGENCY_ORDINARY",
 "consent": {"given": true, "withdrawnAt": "2025-03-01T10:00:00Z"}})"},
      {"wrong-types", R"({"personCode": 7, "urgency": "URGENT", "consent": {"given": "yes"},
 "languages": "eng", "unknownField": null})"},
      {"notes-unicode",
       "{\"personCode\": \"FZ-3\", \"urgency\": \"URGENCY_URGENT\", "
       "\"notes\": \"caf\\u00e9 \xe2\x82\xac\", \"consent\": {\"given\": true}}"},
      {"empty-object", "{}"},
  };
  for (const auto& [name, text] : json) Write(out / "referral_json", name, text);
  std::printf("seed corpora written to %s\n", out.c_str());
  return 0;
}
