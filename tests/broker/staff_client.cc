#include "tests/broker/staff_client.h"

#include "broker/envelope_events.h"
#include "common/grpc_status.h"
#include "crypto/sealed_referral.h"
#include "grpcpp/create_channel.h"

namespace mir::testing {
namespace {

template <typename Response, typename Call>
absl::StatusOr<Response> Unary(Call call) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

StaffClient::StaffClient(int port, const std::string& prefix) : signer_(PkiSigner(prefix)) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadPkiFile("ca.crt");
  tls.pem_cert_chain = ReadPkiFile(prefix + ".crt");
  tls.pem_private_key = ReadPkiFile(prefix + ".key");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  stub_ = v1::Referrals::NewStub(
      grpc::CreateCustomChannel(Address(port), grpc::SslCredentials(tls), args));
}

absl::StatusOr<v1::SubmitResponse> StaffClient::SignAndSubmit(const v1::PrepareResponse& prepared,
                                                              const std::string& body,
                                                              const std::string& referral_key) {
  v1::SubmitRequest request;
  request.set_referral_key(referral_key);
  for (const v1::EnvelopeHeader& header : prepared.headers()) {
    auto envelope = signer_->SignEnvelope(header, body);
    if (!envelope.ok()) return envelope.status();
    request.add_envelopes(*envelope);
  }
  last_signed_.assign(request.envelopes().begin(), request.envelopes().end());
  return Unary<v1::SubmitResponse>(
      [&](grpc::ClientContext* c, v1::SubmitResponse* r) { return stub_->Submit(c, request, r); });
}

absl::StatusOr<std::string> StaffClient::SubmitReferral(const std::string& destination,
                                                        v1::Urgency urgency, bool consent,
                                                        std::optional<absl::Time> ack_deadline,
                                                        const std::string& person_code,
                                                        const std::string& notes) {
  v1::PrepareRequest prepare;
  prepare.set_kind(v1::REFERRAL);
  prepare.set_destination_node(destination);
  auto prepared = Unary<v1::PrepareResponse>([&](grpc::ClientContext* c, v1::PrepareResponse* r) {
    return stub_->Prepare(c, prepare, r);
  });
  if (!prepared.ok()) return prepared.status();
  v1::Referral referral;  // fictional
  referral.set_referral_id(prepared->headers(0).referral_id());
  referral.set_origin_node(identity().node);
  referral.set_destination_node(destination);
  referral.set_person_code(person_code);
  referral.set_origin_case_ref("TEST-CASE");
  referral.set_urgency(urgency);
  referral.set_gender(v1::GENDER_FEMALE);
  referral.add_languages("eng");
  referral.add_needs(v1::NEED_PSYCHOLOGICAL);
  referral.add_exploitation_types(v1::EXPLOITATION_SEXUAL_INDOOR);
  referral.set_notes(notes);
  referral.mutable_consent()->set_given(consent);
  if (ack_deadline) *referral.mutable_ack_deadline() = broker::ToProtoTime(*ack_deadline);
  SealForTest(referral);
  auto submitted = SignAndSubmit(*prepared, referral.SerializeAsString(),
                                 TestReferralKey(referral.referral_id()));
  if (!submitted.ok()) return submitted.status();
  return submitted->referral_id();
}

absl::StatusOr<v1::SubmitResponse> StaffClient::Transition(const std::string& referral_id,
                                                           v1::ReferralState to,
                                                           const std::string& forward_to) {
  const bool confirmation = to == v1::PLACEMENT_CONFIRMED;
  v1::PrepareRequest prepare;
  prepare.set_kind(confirmation ? v1::PLACEMENT_CONFIRMATION : v1::STATUS_CHANGE);
  prepare.set_referral_id(referral_id);
  prepare.set_destination_node(forward_to);
  auto prepared = Unary<v1::PrepareResponse>([&](grpc::ClientContext* c, v1::PrepareResponse* r) {
    return stub_->Prepare(c, prepare, r);
  });
  if (!prepared.ok()) return prepared.status();
  if (confirmation) {
    v1::PlacementConfirmation body;
    body.set_referral_id(referral_id);
    body.set_project_ref("PRJ-TEST");
    *body.mutable_taken_in_charge_at() = broker::ToProtoTime(absl::Now());
    return SignAndSubmit(*prepared, body.SerializeAsString());
  }
  v1::StatusChange body = prepared->body_template();
  body.set_to_state(to);
  if (to == v1::REJECTED) body.set_rejection_reason(v1::REJECTION_NO_PLACES);
  if (to == v1::CLOSED_NEGATIVE) body.set_closure_reason(v1::CLOSURE_NO_AVAILABILITY);
  if (to == v1::WITHDRAWN) body.set_withdrawal_reason(v1::WITHDRAWAL_SOLVED_LOCALLY);
  if (to == v1::PLACEMENT_PROPOSED) body.mutable_placement()->set_project_ref("PRJ-TEST");
  return SignAndSubmit(*prepared, body.SerializeAsString());
}

absl::StatusOr<v1::SubmitResponse> StaffClient::Change(const std::string& referral_id,
                                                       const v1::StatusChange& fields) {
  v1::PrepareRequest prepare;
  prepare.set_kind(v1::STATUS_CHANGE);
  prepare.set_referral_id(referral_id);
  auto prepared = Unary<v1::PrepareResponse>([&](grpc::ClientContext* c, v1::PrepareResponse* r) {
    return stub_->Prepare(c, prepare, r);
  });
  if (!prepared.ok()) return prepared.status();
  v1::StatusChange body = prepared->body_template();
  body.MergeFrom(fields);
  if (!prepared->referral_key().empty()) {
    absl::Status sealed = SealStatusText(body, SecretKey(prepared->referral_key()));
    if (!sealed.ok()) return sealed;
  }
  return SignAndSubmit(*prepared, body.SerializeAsString());
}

absl::StatusOr<v1::EraseResponse> StaffClient::Erase(const std::string& referral_id,
                                                     const std::string& reason) {
  v1::EraseRequest request;
  request.set_referral_id(referral_id);
  request.set_reason(reason);
  return Unary<v1::EraseResponse>(
      [&](grpc::ClientContext* c, v1::EraseResponse* r) { return stub_->Erase(c, request, r); });
}

absl::StatusOr<v1::LegalHoldResponse> StaffClient::Hold(const std::string& referral_id, bool held,
                                                        const std::string& reason) {
  v1::LegalHoldRequest request;
  request.set_referral_id(referral_id);
  request.set_held(held);
  request.set_reason(reason);
  return Unary<v1::LegalHoldResponse>([&](grpc::ClientContext* c, v1::LegalHoldResponse* r) {
    return stub_->SetLegalHold(c, request, r);
  });
}

absl::StatusOr<v1::ListResponse> StaffClient::List(const v1::ListRequest& request) {
  return Unary<v1::ListResponse>(
      [&](grpc::ClientContext* c, v1::ListResponse* r) { return stub_->List(c, request, r); });
}

absl::StatusOr<v1::ReferralView> StaffClient::Get(const std::string& referral_id) {
  v1::GetRequest request;
  request.set_referral_id(referral_id);
  return Unary<v1::ReferralView>(
      [&](grpc::ClientContext* c, v1::ReferralView* r) { return stub_->Get(c, request, r); });
}

absl::Status StaffClient::Circulate(const std::string& referral_id,
                                    const std::string& partner_uri) {
  v1::CirculateRequest request;
  request.set_referral_id(referral_id);
  request.add_partners(partner_uri);
  return Unary<v1::CirculateResponse>([&](grpc::ClientContext* c, v1::CirculateResponse* r) {
           return stub_->Circulate(c, request, r);
         })
      .status();
}

}  // namespace mir::testing
