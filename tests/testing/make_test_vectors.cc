// Writes proto/testvectors/v1.txt to stdout (run by proto/testvectors/generate.sh).
// Usage: mir-make-test-vectors CA_DER AUTHOR_SEED_HEX AUTHOR_DER NODE_SEED_HEX NODE_DER

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "crypto/envelope_bytes.h"
#include "crypto/sealing.h"
#include "crypto/signer.h"
#include "mir/v1/envelope.pb.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/report.pb.h"
#include "mir/v1/service_request.pb.h"

namespace {

std::string Slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void Die(const std::string& what) {
  std::cerr << "mir-make-test-vectors: " << what << "\n";
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> v) {
  if (!v.ok()) Die(std::string(v.status().message()));
  return *std::move(v);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mir;
  if (argc != 6) Die("usage: CA_DER AUTHOR_SEED_HEX AUTHOR_DER NODE_SEED_HEX NODE_DER");
  const std::string ca_der = Slurp(argv[1]);
  auto author = OrDie(Signer::FromSeed(FromHex(argv[2]), Slurp(argv[3])));
  auto node = OrDie(Signer::FromSeed(FromHex(argv[4]), Slurp(argv[5])));

  // A fictional referral: no real person stands behind any value.
  v1::Referral referral;
  referral.set_referral_id("8b0e6f52-1d3a-4c7b-a9e4-5f6d7c8b9a01");
  referral.set_origin_node("toscana");
  referral.set_destination_node("nvn");
  referral.set_origin_case_ref("TV-CASE-0001");
  referral.set_person_code("TV-PERSON-0001");
  referral.set_urgency(v1::URGENCY_EMERGENCY_24H);
  referral.set_danger_level(v1::DANGER_LEVEL_HIGH);
  referral.add_transfer_reasons(v1::TRANSFER_REASON_SAFETY_RISK);
  referral.add_excluded_areas("IT-52");
  referral.add_requested_services(v1::SERVICE_EMERGENCY_SHELTER);
  referral.set_gender(v1::GENDER_FEMALE);
  referral.set_age_band(v1::AGE_BAND_18_24);
  referral.set_age_basis(v1::AGE_BASIS_DECLARED);
  referral.add_languages("eng");
  auto* consent = referral.mutable_consent();
  consent->set_given(true);
  consent->mutable_given_at()->set_seconds(1780300800);  // 2026-06-01T08:00:00Z
  consent->set_method(v1::CONSENT_WRITTEN);
  consent->set_scope(v1::CONSENT_SCOPE_REFERRAL_AND_ROUTING);
  referral.mutable_ack_deadline()->set_seconds(1780303500);  // +15 min after created_at

  v1::EnvelopeHeader header;
  header.set_message_id("3f1c2a9e-7b4d-4e8a-9c61-0d2f5b7e8a14");
  header.set_kind(v1::REFERRAL);
  header.set_recipient_node("nvn");
  header.mutable_created_at()->set_seconds(1780302600);  // 2026-06-01T08:30:00Z
  header.set_referral_id(referral.referral_id());
  header.set_sequence(1);
  const std::string envelope = OrDie(author->SignEnvelope(header, referral.SerializeAsString()));
  v1::Envelope parsed;
  parsed.ParseFromString(envelope);

  v1::Receipt receipt;
  receipt.set_receiver_node("nvn");
  receipt.mutable_received_at()->set_seconds(1780302602);
  auto* entry = receipt.add_entries();
  entry->set_message_id(header.message_id());
  entry->set_envelope_sha256(Sha256(envelope));
  v1::EnvelopeHeader receipt_header;
  receipt_header.set_message_id("c2d4e6f8-0a1b-4c3d-8e5f-6a7b8c9d0e1f");
  receipt_header.set_kind(v1::RECEIPT);
  receipt_header.set_recipient_node("toscana");
  receipt_header.mutable_created_at()->set_seconds(1780302602);
  const std::string receipt_envelope =
      OrDie(node->SignEnvelope(receipt_header, receipt.SerializeAsString()));
  v1::Envelope parsed_receipt;
  parsed_receipt.ParseFromString(receipt_envelope);

  // nvn's RECEIVED answers (PROTOCOL.md §10.8) for the referral above and a
  // second fictional one, under one signature.
  v1::ReceivedAnswers answers;
  auto* first = answers.add_answers();
  first->set_message_id("d3e5f7a9-1b2c-4d3e-9f60-7a8b9c0d1e2f");
  first->set_referral_id(referral.referral_id());
  first->set_sequence(1);
  first->set_submitted_message_id(header.message_id());
  auto* second = answers.add_answers();
  second->set_message_id("e4f6a8b0-2c3d-4e4f-8a71-8b9c0d1e2f30");
  second->set_referral_id("5a7c9e1b-3d4f-4a6b-8c9d-0e1f2a3b4c5d");
  second->set_sequence(1);
  second->set_submitted_message_id("f5a7b9c1-3d4e-4f50-9b82-9c0d1e2f3041");
  v1::EnvelopeHeader answers_header;
  answers_header.set_message_id("a6b8c0d2-4e5f-4061-8c93-0d1e2f304152");
  answers_header.set_kind(v1::RECEIVED_ANSWERS);
  answers_header.set_recipient_node("toscana");
  answers_header.mutable_created_at()->set_seconds(1780302603);
  const std::string answers_envelope =
      OrDie(node->SignEnvelope(answers_header, answers.SerializeAsString()));
  v1::Envelope parsed_answers;
  parsed_answers.ParseFromString(answers_envelope);

  // The referral's sealed fields (PROTOCOL.md §11) under a fixed key and
  // nonce; real sealing draws both at random. Fictional values again.
  v1::SealedReferral sealed_fields;
  sealed_fields.set_origin_case_ref("TV-CASE-0001");
  sealed_fields.set_person_code("TV-SEALED-PERSON-0042");
  sealed_fields.set_nationality("NG");
  sealed_fields.add_exploitation_types(v1::EXPLOITATION_SEXUAL_STREET);
  sealed_fields.set_notes("test vector: no real person");
  std::string key_bytes(kReferralKeyBytes, '\0'), seal_nonce(kSealNonceBytes, '\0');
  for (size_t i = 0; i < key_bytes.size(); ++i) key_bytes[i] = static_cast<char>(i);
  for (size_t i = 0; i < seal_nonce.size(); ++i) seal_nonce[i] = static_cast<char>(0xa0 + i);
  const SecretKey referral_key(key_bytes);
  const std::string sealed_plaintext = sealed_fields.SerializeAsString();
  const v1::Sealed sealed = OrDie(Seal(referral_key, kSealedReferralPurpose, referral.referral_id(),
                                       sealed_plaintext, seal_nonce));
  // Spelled out as PROTOCOL.md §11.2 does; the test decrypts with it.
  std::string sealed_aad = "mir-exchange/v1 sealed";
  sealed_aad.push_back('\0');
  sealed_aad += std::string(kSealedReferralPurpose);
  sealed_aad.push_back('\0');
  sealed_aad += referral.referral_id();
  sealed_aad.push_back('\0');
  sealed_aad += sealed.key_id();

  // A fictional citizen report at nvn (PROTOCOL.md §14): its sealed part
  // under the same fixed key and nonce, and its RECORDED event.
  const std::string report_id = "5d2c7e1a-9b3f-4a6e-8c0d-1e2f3a4b5c6d";
  v1::ReportPrivate report_private;
  report_private.set_municipality("Comune di prova");
  report_private.set_description("test vector: no real person");
  const std::string report_plaintext = report_private.SerializeAsString();
  const v1::Sealed report_sealed =
      OrDie(Seal(referral_key, "report", report_id, report_plaintext, seal_nonce));
  v1::SignedReportEvent report_event;
  report_event.set_report_id(report_id);
  report_event.set_sequence(1);
  report_event.mutable_event()->set_kind(v1::ReportEvent::RECORDED);
  report_event.mutable_event()->set_actor("mir://nvn/operator/anna");
  report_event.mutable_event()->mutable_at()->set_seconds(1780302600);
  report_event.mutable_event()->set_sealed_sha256(Sha256(report_sealed.SerializeAsString()));
  v1::CitizenReport* clear = report_event.mutable_report();
  clear->set_channel(v1::CHANNEL_PHONE);
  clear->set_reporter_type(v1::REPORTER_CITIZEN);
  clear->set_reason(v1::REASON_REPORT);
  clear->set_province("FI");
  clear->add_suspected_exploitation(v1::EXPLOITATION_LABOUR);
  clear->set_persons(2);
  clear->set_language("ita");
  v1::EnvelopeHeader report_header;
  report_header.set_message_id("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d");
  report_header.set_kind(v1::REPORT_EVENT);
  report_header.set_recipient_node("nvn");
  report_header.mutable_created_at()->set_seconds(1780302600);
  report_header.set_referral_id(report_id);
  report_header.set_sequence(1);
  const std::string report_envelope =
      OrDie(node->SignEnvelope(report_header, report_event.SerializeAsString()));
  v1::Envelope parsed_report;
  parsed_report.ParseFromString(report_envelope);

  // A service request toscana placed with nvn (PROTOCOL.md §15.5): its
  // sealed part under the fixed key and nonce, and nvn's SERVICE_UPDATE
  // saying it assigned the request to roster entry MED-0007.
  const std::string request_id = "6e3d8f2b-0c4a-4b7f-9d1e-2f3a4b5c6d7e";
  v1::ServiceRequestPrivate service_private;
  service_private.set_requester("Commissione Territoriale di prova");
  service_private.set_notes("test vector: no real person");
  const std::string service_plaintext = service_private.SerializeAsString();
  const v1::Sealed service_sealed =
      OrDie(Seal(referral_key, "service-request", request_id, service_plaintext, seal_nonce));
  v1::ServiceRequestUpdate update;
  update.set_request_id(request_id);
  update.set_state(v1::SERVICE_ASSIGNED);
  update.set_roster_code("MED-0007");
  v1::EnvelopeHeader update_header;
  update_header.set_message_id("7f4e9a3c-1d5b-4c8a-8e2f-3a4b5c6d7e8f");
  update_header.set_kind(v1::SERVICE_UPDATE);
  update_header.set_recipient_node("toscana");
  update_header.mutable_created_at()->set_seconds(1780302600);
  update_header.set_referral_id(request_id);
  const std::string update_envelope =
      OrDie(node->SignEnvelope(update_header, update.SerializeAsString()));

  // A STATISTICS_REPORT (PROTOCOL.md §16): one table, counts only, for
  // March 2026 in Europe/Rome. Signed with the node key at hand (nvn's); a
  // region signs its own the same way.
  v1::StatisticsReport statistics;
  statistics.set_node_id("nvn");
  statistics.mutable_month_start()->set_seconds(1772319600);  // 2026-03-01 00:00 CET
  statistics.mutable_month_end()->set_seconds(1774994400);    // 2026-04-01 00:00 CEST
  statistics.mutable_counted_at()->set_seconds(1780302600);
  v1::CountTableData* by_month = statistics.add_tables();
  by_month->set_name("mir_by_month");
  by_month->add_row_labels("2026-03");
  for (const char* column : {"closed positive", "closed negative", "pending"}) {
    by_month->add_column_labels(column);
  }
  for (int count : {12, 3, 40}) by_month->add_counts(count);
  v1::EnvelopeHeader statistics_header;
  statistics_header.set_message_id("8a5f0b4d-2e6c-4d9b-9f3a-4b5c6d7e8f90");
  statistics_header.set_kind(v1::STATISTICS_REPORT);
  statistics_header.set_recipient_node("nvn");
  statistics_header.mutable_created_at()->set_seconds(1780302600);
  const std::string statistics_envelope =
      OrDie(node->SignEnvelope(statistics_header, statistics.SerializeAsString()));

  std::cout << "# MIR Exchange protocol v1 test vectors (proto/PROTOCOL.md §9).\n"
               "# Generated by proto/testvectors/generate.sh; checked by "
               "tests/crypto/test_vectors_test.cc.\n"
               "# Values are lowercase hex unless the name ends in _text or _unix.\n"
               "# Seeds are the RFC 8032 §7.1 test keys: public, for tests only.\n"
               "# The sealed-referral key (00..1f) and nonce (a0..b7) are fixed for tests only.\n";
  auto line = [](const char* k, const std::string& v) { std::cout << k << ": " << v << "\n"; };
  line("ca_certificate_der", ToHex(ca_der));
  line("author_seed", argv[2]);
  line("author_certificate_der", ToHex(author->certificate_der()));
  line("author_identity_text", author->identity().Uri());
  line("verify_at_unix", "1780302660");
  line("header", ToHex(parsed.header()));
  line("body", ToHex(parsed.body()));
  line("signed_bytes", ToHex(SignedBytes(parsed.header(), parsed.body())));
  line("signature", ToHex(parsed.signature().value()));
  line("envelope", ToHex(envelope));
  line("envelope_sha256", ToHex(Sha256(envelope)));
  line("node_seed", argv[4]);
  line("node_certificate_der", ToHex(node->certificate_der()));
  line("receipt_header", ToHex(parsed_receipt.header()));
  line("receipt_body", ToHex(parsed_receipt.body()));
  line("receipt_signature", ToHex(parsed_receipt.signature().value()));
  line("receipt_envelope", ToHex(receipt_envelope));
  line("received_answers_header", ToHex(parsed_answers.header()));
  line("received_answers_body", ToHex(parsed_answers.body()));
  line("received_answers_signature", ToHex(parsed_answers.signature().value()));
  line("received_answers_envelope", ToHex(answers_envelope));
  line("sealed_referral_key", ToHex(referral_key.bytes()));
  line("sealed_referral_key_id", ToHex(sealed.key_id()));
  line("sealed_referral_purpose_text", std::string(kSealedReferralPurpose));
  line("sealed_referral_referral_id_text", referral.referral_id());
  line("sealed_referral_plaintext", ToHex(sealed_plaintext));
  line("sealed_referral_aad", ToHex(sealed_aad));
  line("sealed_referral_nonce", ToHex(sealed.nonce()));
  line("sealed_referral_ciphertext", ToHex(sealed.ciphertext()));
  line("sealed_referral_sealed", ToHex(sealed.SerializeAsString()));
  line("report_event_header", ToHex(parsed_report.header()));
  line("report_event_body", ToHex(parsed_report.body()));
  line("report_event_signature", ToHex(parsed_report.signature().value()));
  line("report_event_envelope", ToHex(report_envelope));
  line("report_sealed_purpose_text", "report");
  line("report_sealed_report_id_text", report_id);
  line("report_sealed_plaintext", ToHex(report_plaintext));
  line("report_sealed_ciphertext", ToHex(report_sealed.ciphertext()));
  line("report_sealed_sealed", ToHex(report_sealed.SerializeAsString()));
  line("service_sealed_purpose_text", "service-request");
  line("service_sealed_request_id_text", request_id);
  line("service_sealed_plaintext", ToHex(service_plaintext));
  line("service_sealed_ciphertext", ToHex(service_sealed.ciphertext()));
  line("service_sealed_sealed", ToHex(service_sealed.SerializeAsString()));
  line("service_update_body", ToHex(update.SerializeAsString()));
  line("service_update_envelope", ToHex(update_envelope));
  line("statistics_report_body", ToHex(statistics.SerializeAsString()));
  line("statistics_report_envelope", ToHex(statistics_envelope));
  return 0;
}
