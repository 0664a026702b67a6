// Citizen reports (PROTOCOL.md §14) over real gRPC and mutual TLS: the
// lifecycle with its refusals, bad input that changes nothing, the public
// form's calls with their follow-up, the contact sealed apart, the signed
// events, and a report sent on from toscana to lombardia through nvn.

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "broker/report_rules.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/sealing.h"
#include "grpcpp/create_channel.h"
#include "mir/v1/report.grpc.pb.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using ::testing::HasSubstr;

// A Reports client with the certificate of a PKI person or console, e.g.
// "toscana/operator" or "toscana/console".
class ReportsClient {
 public:
  ReportsClient(int port, const std::string& prefix) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadPkiFile("ca.crt");
    tls.pem_cert_chain = ReadPkiFile(prefix + ".crt");
    tls.pem_private_key = ReadPkiFile(prefix + ".key");
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub_ = v1::Reports::NewStub(
        grpc::CreateCustomChannel(Address(port), grpc::SslCredentials(tls), args));
  }

  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    Response response;
    const grpc::Status status = ((*stub_).*method)(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  absl::StatusOr<v1::ReportView> Record(const v1::RecordReportRequest& r) {
    return Call<v1::ReportView>(&v1::Reports::Stub::Record, r);
  }
  absl::StatusOr<v1::ReportView> Triage(const std::string& id, v1::Triage triage,
                                        const std::string& route_to = "") {
    v1::TriageReportRequest r;
    r.set_report_id(id);
    r.set_triage(triage);
    r.set_route_to(route_to);
    return Call<v1::ReportView>(&v1::Reports::Stub::Triage, r);
  }
  absl::StatusOr<v1::ReportView> Link(const std::string& id, const std::string& referral_id) {
    v1::LinkReportRequest r;
    r.set_report_id(id);
    r.set_referral_id(referral_id);
    return Call<v1::ReportView>(&v1::Reports::Stub::Link, r);
  }
  absl::StatusOr<v1::ReportView> Get(const std::string& id, bool include_contact = false) {
    v1::GetReportRequest r;
    r.set_report_id(id);
    r.set_include_contact(include_contact);
    return Call<v1::ReportView>(&v1::Reports::Stub::Get, r);
  }
  absl::StatusOr<v1::ListReportsResponse> List() {
    return Call<v1::ListReportsResponse>(&v1::Reports::Stub::List, v1::ListReportsRequest());
  }
  absl::StatusOr<v1::PublicReportResponse> RecordPublic(const v1::CitizenReport& report) {
    v1::PublicReportRequest r;
    *r.mutable_report() = report;
    return Call<v1::PublicReportResponse>(&v1::Reports::Stub::RecordPublic, r);
  }
  absl::StatusOr<v1::FollowUpResponse> FollowUp(const std::string& code,
                                                const std::string& passphrase) {
    v1::FollowUpRequest r;
    r.set_receipt_code(code);
    r.set_passphrase(passphrase);
    return Call<v1::FollowUpResponse>(&v1::Reports::Stub::FollowUp, r);
  }

 private:
  std::unique_ptr<v1::Reports::Stub> stub_;
};

// A fictional phone call.
v1::CitizenReport PhoneCall() {
  v1::CitizenReport r;
  r.set_channel(v1::CHANNEL_PHONE);
  r.set_reporter_type(v1::REPORTER_CITIZEN);
  r.set_reason(v1::REASON_REPORT);
  r.set_province("PO");
  r.set_municipality("Comune di prova");
  r.add_suspected_exploitation(v1::EXPLOITATION_LABOUR);
  r.set_persons(3);
  r.set_language("ita");
  r.set_description("fictional-description-7f3a: workers seen sleeping in a warehouse");
  return r;
}

v1::RecordReportRequest NewRecord(const v1::CitizenReport& report = PhoneCall()) {
  v1::RecordReportRequest r;
  r.set_report_id(NewUuid());
  *r.mutable_report() = report;
  return r;
}

std::vector<v1::ReportEvent::Kind> KindsOf(const v1::ReportView& view) {
  std::vector<v1::ReportEvent::Kind> kinds;
  for (const v1::ReportEvent& e : view.events()) kinds.push_back(e.kind());
  return kinds;
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ReportsTest : public NetworkTest {
 protected:
  ReportsClient Client(const std::string& prefix) {
    return ReportsClient(ports_[prefix.substr(0, prefix.find('/'))], prefix);
  }
  size_t ReportsAt(const std::string& prefix) {
    auto list = Client(prefix).List();
    EXPECT_OK(list);
    return list.ok() ? list->reports_size() : 0;
  }
};

TEST_F(ReportsTest, RecordTriageAndLinkWithEachRefusedStepNamingWhy) {
  StartAll();
  ReportsClient op = Client("toscana/operator");
  const v1::RecordReportRequest request = NewRecord();
  auto recorded = op.Record(request);
  ASSERT_OK(recorded);
  const std::string id = request.report_id();
  EXPECT_EQ(recorded->summary().state(), v1::REPORT_RECEIVED);
  EXPECT_EQ(recorded->summary().origin_node(), "toscana");
  EXPECT_EQ(recorded->report().description(), request.report().description());
  EXPECT_EQ(KindsOf(*recorded), std::vector{v1::ReportEvent::RECORDED});
  EXPECT_EQ(recorded->events(0).actor(), "mir://toscana/operator/op1");

  // A retry answers the same and records nothing more; other content under
  // the same id is a conflict.
  auto again = op.Record(request);
  ASSERT_OK(again);
  EXPECT_EQ(again->summary().report_id(), id);
  EXPECT_EQ(ReportsAt("toscana/operator"), 1u);
  v1::RecordReportRequest other = request;
  other.mutable_report()->set_persons(4);
  EXPECT_THAT(MIR_STATUS(op.Record(other)),
              StatusIsReason(StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));

  // Not triaged yet: no link.
  const std::string referral = SubmitReferral("lombardia");
  EXPECT_THAT(MIR_STATUS(op.Link(id, referral)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  auto triaged = op.Triage(id, v1::TRIAGE_QUALIFIED);
  ASSERT_OK(triaged);
  EXPECT_EQ(triaged->summary().state(), v1::REPORT_TRIAGED);
  EXPECT_EQ(triaged->summary().triage(), v1::TRIAGE_QUALIFIED);
  auto twice = op.Triage(id, v1::TRIAGE_NUISANCE);
  EXPECT_THAT(MIR_STATUS(twice),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(std::string(twice.status().message()),
              HasSubstr("REPORT_TRIAGED (TRIAGE_QUALIFIED)"));

  EXPECT_THAT(MIR_STATUS(op.Link(id, NewUuid())),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  auto linked = op.Link(id, referral);
  ASSERT_OK(linked);
  EXPECT_EQ(linked->summary().referral_id(), referral);
  EXPECT_EQ(KindsOf(*linked), (std::vector{v1::ReportEvent::RECORDED, v1::ReportEvent::TRIAGED,
                                           v1::ReportEvent::LINKED}));
  EXPECT_THAT(MIR_STATUS(op.Link(id, referral)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(MIR_STATUS(op.Get(NewUuid())),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REPORT));
}

TEST_F(ReportsTest, ANuisanceIsNeitherSentOnNorLinked) {
  StartAll();
  ReportsClient op = Client("toscana/operator");
  const v1::RecordReportRequest request = NewRecord();
  ASSERT_OK(op.Record(request));
  EXPECT_THAT(MIR_STATUS(op.Triage(request.report_id(), v1::TRIAGE_NUISANCE, "lombardia")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(MIR_STATUS(op.Triage(request.report_id(), v1::TRIAGE_PERTINENT, "toscana")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  ASSERT_OK(op.Triage(request.report_id(), v1::TRIAGE_NUISANCE));
  EXPECT_THAT(MIR_STATUS(op.Link(request.report_id(), SubmitReferral("lombardia"))),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
}

TEST_F(ReportsTest, BadInputGetsItsFieldNamedAndChangesNothing) {
  StartAll();
  ReportsClient op = Client("toscana/operator");
  struct Case {
    const char* name;
    std::function<void(v1::CitizenReport&)> spoil;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"unknown language", [](auto& r) { r.set_language("xxq"); }, "language"},
      {"unknown province", [](auto& r) { r.set_province("XX"); }, "province"},
      {"no channel", [](auto& r) { r.clear_channel(); }, "channel"},
      {"no reporter", [](auto& r) { r.clear_reporter_type(); }, "reporter_type"},
      {"description over the limit",
       [](auto& r) { r.set_description(std::string(broker::kMaxReportDescriptionBytes + 1, 'a')); },
       "description"},
      {"control character", [](auto& r) { r.set_municipality("a\x1b[2Jb"); }, "municipality"},
      {"too many persons", [](auto& r) { r.set_persons(1001); }, "persons"},
      {"undefined exploitation",
       [](auto& r) { r.add_suspected_exploitation(static_cast<v1::ExploitationType>(999)); },
       "suspected_exploitation"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::CitizenReport report = PhoneCall();
    c.spoil(report);
    auto refused = op.Record(NewRecord(report));
    EXPECT_THAT(MIR_STATUS(refused),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(c.field));
  }
  v1::RecordReportRequest bad_id = NewRecord();
  bad_id.set_report_id("not-a-uuid");
  EXPECT_THAT(MIR_STATUS(op.Record(bad_id)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_EQ(ReportsAt("toscana/operator"), 0u);
}

TEST_F(ReportsTest, OnlyOperatorsAndTheConsoleByItselfForThePublicForm) {
  StartAll();
  EXPECT_THAT(MIR_STATUS(Client("toscana/partner").Record(NewRecord())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  // The console acts for a signed-in person or, for the public form, alone.
  EXPECT_THAT(MIR_STATUS(Client("toscana/console").Record(NewRecord())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::CONSOLE_PROOF));
  EXPECT_THAT(MIR_STATUS(Client("toscana/operator").RecordPublic(PhoneCall())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  EXPECT_THAT(
      MIR_STATUS(ReportsClient(ports_["toscana"], "lombardia/operator").Record(NewRecord())),
      StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  EXPECT_EQ(ReportsAt("toscana/operator"), 0u);
}

TEST_F(ReportsTest, APublicReportIsFollowedUpWithItsCodeAndPassphraseOnly) {
  StartAll();
  ReportsClient console = Client("toscana/console");
  auto answer = console.RecordPublic(PhoneCall());
  ASSERT_OK(answer);
  EXPECT_OK(broker::CanonicalReceiptCode(answer->receipt_code()));
  EXPECT_EQ(answer->passphrase().size(), 23u);  // 20 characters in groups of 5

  auto list = Client("toscana/operator").List();
  ASSERT_OK(list);
  ASSERT_EQ(list->reports_size(), 1);
  const v1::ReportSummary& seen = list->reports(0);
  EXPECT_EQ(seen.channel(), v1::CHANNEL_WEB_FORM);  // whatever the form said

  auto progress = console.FollowUp(answer->receipt_code(), answer->passphrase());
  ASSERT_OK(progress);
  EXPECT_EQ(progress->progress(), v1::FollowUpResponse::RECEIVED);
  // Typed in lower case without dashes: the same report.
  std::string typed = absl::AsciiStrToLower(answer->receipt_code());
  typed.erase(std::remove(typed.begin(), typed.end(), '-'), typed.end());
  EXPECT_OK(console.FollowUp(typed, answer->passphrase()));

  // A wrong passphrase and an unknown code get the same answer.
  auto wrong = console.FollowUp(answer->receipt_code(), "AAAAA-AAAAA-AAAAA-AAAAA");
  auto unknown = console.FollowUp("0000-0000-0000", answer->passphrase());
  EXPECT_THAT(MIR_STATUS(wrong), StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REPORT));
  EXPECT_THAT(MIR_STATUS(unknown), StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REPORT));
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  EXPECT_THAT(MIR_STATUS(console.FollowUp("K7QF", answer->passphrase())),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));

  ASSERT_OK(Client("toscana/operator").Triage(seen.report_id(), v1::TRIAGE_NOT_PERTINENT));
  progress = console.FollowUp(answer->receipt_code(), answer->passphrase());
  ASSERT_OK(progress);
  EXPECT_EQ(progress->progress(), v1::FollowUpResponse::CLOSED);
  auto view = Client("toscana/operator").Get(seen.report_id());
  ASSERT_OK(view);
  EXPECT_EQ(view->events(0).actor(), "mir://toscana/node");
}

TEST_F(ReportsTest, TheContactIsShownOnlyWhenAskedAndNothingPersonalIsInTheFileInClear) {
  StartAll();
  ReportsClient op = Client("toscana/operator");
  v1::CitizenReport report = PhoneCall();
  report.set_contact("fictional-contact-91c2 tel 000 000");
  const v1::RecordReportRequest request = NewRecord(report);
  ASSERT_OK(op.Record(request));
  auto plain = op.Get(request.report_id());
  ASSERT_OK(plain);
  EXPECT_TRUE(plain->summary().has_contact());
  EXPECT_TRUE(plain->report().contact().empty());
  auto with_contact = op.Get(request.report_id(), /*include_contact=*/true);
  ASSERT_OK(with_contact);
  EXPECT_EQ(with_contact->report().contact(), report.contact());

  const std::string file = options_["toscana"].database_path;
  StopNode("toscana");
  for (const std::string& path : {file, file + "-wal"}) {
    const std::string bytes = FileBytes(path);
    for (const char* secret :
         {"fictional-contact-91c2", "fictional-description-7f3a", "Comune di prova"}) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " in " << path;
    }
  }
}

TEST_F(ReportsTest, EveryStepIsAnEnvelopeSignedByTheNode) {
  StartAll();
  ReportsClient op = Client("toscana/operator");
  const v1::RecordReportRequest request = NewRecord();
  ASSERT_OK(op.Record(request));
  ASSERT_OK(op.Triage(request.report_id(), v1::TRIAGE_PERTINENT));
  std::vector<std::string> envelopes;
  ASSERT_OK(Store("toscana").Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(envelopes, txn.ReportEvents(request.report_id()));
    return absl::OkStatus();
  }));
  ASSERT_EQ(envelopes.size(), 2u);
  for (size_t i = 0; i < envelopes.size(); ++i) {
    auto verified = NodeAt("toscana").verifier().Verify(envelopes[i]);
    ASSERT_OK(verified);
    EXPECT_EQ(verified->header.kind(), v1::REPORT_EVENT);
    EXPECT_EQ(verified->author.Uri(), "mir://toscana/node");
    EXPECT_EQ(verified->header.sequence(), i + 1);
    v1::SignedReportEvent body;
    ASSERT_TRUE(body.ParseFromString(verified->body));
    EXPECT_EQ(body.report_id(), request.report_id());
    EXPECT_TRUE(body.report().description().empty());  // signed without its sealed parts
  }
}

TEST_F(ReportsTest, ARoutedReportReachesLombardiaThroughNvnWithoutTheContact) {
  StartAll();
  ReportsClient op = Client("toscana/operator");
  v1::CitizenReport report = PhoneCall();
  report.set_contact("fictional-contact-55aa");
  const v1::RecordReportRequest request = NewRecord(report);
  const std::string& id = request.report_id();
  ASSERT_OK(op.Record(request));
  // A node whose encryption certificate toscana lacks: nothing is sent or changed.
  auto nowhere = op.Triage(id, v1::TRIAGE_PERTINENT, "veneto");
  EXPECT_FALSE(nowhere.ok());
  auto still = op.Get(id);
  ASSERT_OK(still);
  EXPECT_EQ(still->summary().state(), v1::REPORT_RECEIVED);
  auto routed = op.Triage(id, v1::TRIAGE_PERTINENT, "lombardia");
  ASSERT_OK(routed);
  EXPECT_EQ(routed->summary().state(), v1::REPORT_ROUTED);
  EXPECT_EQ(routed->summary().routed_to(), "lombardia");

  ASSERT_TRUE(WaitFor([&] {
    std::optional<storage::ReportRecord> there;
    absl::Status s = Store("lombardia").Read([&](storage::ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(there, txn.GetReport(id));
      return absl::OkStatus();
    });
    return s.ok() && there.has_value();
  }));
  auto view = Client("lombardia/operator").Get(id, /*include_contact=*/true);
  ASSERT_OK(view);
  EXPECT_EQ(view->summary().state(), v1::REPORT_RECEIVED);  // lombardia triages it again
  EXPECT_EQ(view->summary().origin_node(), "toscana");
  EXPECT_EQ(view->report().description(), report.description());
  EXPECT_EQ(view->report().municipality(), report.municipality());
  EXPECT_FALSE(view->summary().has_contact());
  EXPECT_TRUE(view->report().contact().empty());
  ASSERT_EQ(view->events_size(), 1);
  EXPECT_EQ(view->events(0).kind(), v1::ReportEvent::ARRIVED);
  EXPECT_EQ(view->events(0).node(), "toscana");
  EXPECT_EQ(view->events(0).triage(), v1::TRIAGE_PERTINENT);

  // Acknowledged: toscana holds lombardia's receipt. The relay keeps no report.
  ASSERT_TRUE(WaitFor([&] {
    auto outbox = Store("toscana").OutboxForReferral(id);
    return outbox.ok() && outbox->size() == 1 &&
           (*outbox)[0].state == storage::OutboxState::kDelivered;
  }));
  std::optional<storage::ReportRecord> at_hub;
  ASSERT_OK(Store("nvn").Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(at_hub, txn.GetReport(id));
    return absl::OkStatus();
  }));
  EXPECT_FALSE(at_hub.has_value());
  // The second hop's receipt reached nvn: lombardia stored it exactly once.
  EXPECT_EQ(ReportsAt("lombardia/operator"), 1u);
}

// A CITIZEN_REPORT signed by toscana's node, as toscana would send it to
// lombardia, with `spoil` applied to its body before signing.
std::string SignedTransfer(broker::Node& toscana, const std::string& report_id,
                           const std::function<void(v1::ReportTransfer&)>& spoil = {}) {
  auto cert = toscana.keyring().CertificateFor("lombardia", absl::Now());
  EXPECT_OK(cert);
  const SecretKey key = NewReferralKey();
  v1::ReportTransfer transfer;
  transfer.set_report_id(report_id);
  *transfer.mutable_report() = broker::ClearFacts(PhoneCall());
  transfer.set_triage(v1::TRIAGE_QUALIFIED);
  auto wrapped = WrapToRecipient(key, cert->public_key);
  EXPECT_OK(wrapped);
  transfer.set_wrapped_key(*wrapped);
  transfer.set_recipient_key_id(cert->key_id);
  v1::ReportPrivate part;
  part.set_description("fictional");
  auto sealed = Seal(key, "report", report_id, part.SerializeAsString(), RandomNonce());
  EXPECT_OK(sealed);
  *transfer.mutable_sealed() = *sealed;
  if (spoil) spoil(transfer);
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::CITIZEN_REPORT);
  header.set_recipient_node("lombardia");
  *header.mutable_created_at() = ToProtoTime(absl::Now());
  header.set_referral_id(report_id);
  auto bytes = PkiSigner("toscana/node")->SignEnvelope(header, transfer.SerializeAsString());
  EXPECT_OK(bytes);
  return bytes.ok() ? *bytes : "";
}

TEST_F(ReportsTest, AHostileCitizenReportIsRefusedWithItsReasonAndStoresNothing) {
  StartAll();
  const Identity toscana{"toscana", Role::kNode, ""};
  struct Case {
    const char* name;
    std::function<void(v1::ReportTransfer&)> spoil;
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"sealed part altered",
       [](v1::ReportTransfer& t) { (*t.mutable_sealed()->mutable_ciphertext())[0] ^= 1; },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"contact in clear",
       [](v1::ReportTransfer& t) { t.mutable_report()->set_contact("fictional-contact"); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"unknown language", [](v1::ReportTransfer& t) { t.mutable_report()->set_language("xxq"); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"wrapped to another key",
       [](v1::ReportTransfer& t) { t.set_recipient_key_id(std::string(16, 'x')); },
       StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY},
      {"body for another report", [](v1::ReportTransfer& t) { t.set_report_id(NewUuid()); },
       StatusCode::kInvalidArgument, v1::MALFORMED_BODY},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string id = NewUuid();
    EXPECT_THAT(
        MIR_STATUS(
            NodeAt("lombardia").Deliver(toscana, SignedTransfer(NodeAt("toscana"), id, c.spoil))),
        StatusIsReason(c.code, c.reason));
  }
  EXPECT_EQ(ReportsAt("lombardia/operator"), 0u);

  // A REPORT_EVENT is never delivered.
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::REPORT_EVENT);
  header.set_recipient_node("lombardia");
  *header.mutable_created_at() = ToProtoTime(absl::Now());
  header.set_referral_id(NewUuid());
  header.set_sequence(1);
  auto event = PkiSigner("toscana/node")->SignEnvelope(header, "x");
  ASSERT_OK(event);
  EXPECT_THAT(MIR_STATUS(NodeAt("lombardia").Deliver(toscana, *event)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));

  // The same transfer unspoilt is taken in, once.
  const std::string id = NewUuid();
  const std::string good = SignedTransfer(NodeAt("toscana"), id);
  ASSERT_OK(NodeAt("lombardia").Deliver(toscana, good));
  ASSERT_OK(NodeAt("lombardia").Deliver(toscana, good));
  EXPECT_EQ(ReportsAt("lombardia/operator"), 1u);
}

}  // namespace
}  // namespace mir::testing
