// Service requests (PROTOCOL.md §15) over real gRPC and mutual TLS: each
// step of the lifecycle allowed and refused with its reason, bad input that
// changes nothing, the roster by opaque code, idempotent creation, the
// signed SERVICE_EVENT envelopes, and the sealed parts never in the file in
// clear. Times are relative to the wall clock with hours of margin.

#include <fstream>
#include <functional>
#include <sstream>

#include "broker/service_request_rules.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/sealing.h"
#include "grpcpp/create_channel.h"
#include "mir/v1/service_request.grpc.pb.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using ::testing::HasSubstr;

// A ServiceRequests client with the certificate of a PKI person or console,
// e.g. "toscana/operator".
class ServiceClient {
 public:
  ServiceClient(int port, const std::string& prefix) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadPkiFile("ca.crt");
    tls.pem_cert_chain = ReadPkiFile(prefix + ".crt");
    tls.pem_private_key = ReadPkiFile(prefix + ".key");
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub_ = v1::ServiceRequests::NewStub(
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

  absl::StatusOr<v1::ServiceRequestView> Create(const v1::CreateServiceRequestRequest& r) {
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Create, r);
  }
  absl::StatusOr<v1::ServiceRequestView> Assign(const std::string& id, const std::string& code) {
    v1::AssignServiceRequestRequest r;
    r.set_request_id(id);
    r.set_roster_code(code);
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Assign, r);
  }
  absl::StatusOr<v1::ServiceRequestView> Schedule(const std::string& id, absl::Time at) {
    v1::ScheduleServiceRequestRequest r;
    r.set_request_id(id);
    *r.mutable_at() = ToProtoTime(at);
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Schedule, r);
  }
  absl::StatusOr<v1::ServiceRequestView> Complete(const std::string& id,
                                                  v1::ServiceOutcome outcome) {
    v1::CompleteServiceRequestRequest r;
    r.set_request_id(id);
    r.set_outcome(outcome);
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Complete, r);
  }
  absl::StatusOr<v1::ServiceRequestView> Cancel(const std::string& id,
                                                v1::ServiceCancelReason reason) {
    v1::CancelServiceRequestRequest r;
    r.set_request_id(id);
    r.set_reason(reason);
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Cancel, r);
  }
  absl::StatusOr<v1::ServiceRequestView> Place(const std::string& id, const std::string& node) {
    v1::PlaceServiceRequestRequest r;
    r.set_request_id(id);
    r.set_node(node);
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Place, r);
  }
  absl::StatusOr<v1::ServiceRequestView> Get(const std::string& id) {
    v1::GetServiceRequestRequest r;
    r.set_request_id(id);
    return Call<v1::ServiceRequestView>(&v1::ServiceRequests::Stub::Get, r);
  }
  absl::StatusOr<v1::ListServiceRequestsResponse> List() {
    return Call<v1::ListServiceRequestsResponse>(&v1::ServiceRequests::Stub::List,
                                                 v1::ListServiceRequestsRequest());
  }
  absl::StatusOr<v1::RosterEntry> Put(const v1::RosterEntry& entry) {
    v1::PutRosterEntryRequest r;
    *r.mutable_entry() = entry;
    return Call<v1::RosterEntry>(&v1::ServiceRequests::Stub::PutRosterEntry, r);
  }
  absl::StatusOr<v1::ListRosterResponse> Roster() {
    return Call<v1::ListRosterResponse>(&v1::ServiceRequests::Stub::ListRoster,
                                        v1::ListRosterRequest());
  }

 private:
  std::unique_ptr<v1::ServiceRequests::Stub> stub_;
};

// A fictional request for a Nigerian Pidgin mediator in Florence, from
// tomorrow for two days.
v1::ServiceRequest MediatorInFlorence() {
  v1::ServiceRequest r;
  r.set_kind(v1::SERVICE_KIND_MEDIATOR);
  r.set_language("pcm");
  r.set_same_gender_wanted(true);
  r.set_gender(v1::GENDER_FEMALE);
  r.set_attendance(v1::ATTENDANCE_IN_PERSON);
  r.set_province("FI");
  *r.mutable_window_start() = ToProtoTime(absl::Now() + absl::Hours(24));
  *r.mutable_window_end() = ToProtoTime(absl::Now() + absl::Hours(72));
  r.set_requester("fictional-requester-4b1e Commissione Territoriale di Firenze");
  r.set_notes("fictional-notes-c9d0: the person prefers mornings");
  return r;
}

v1::CreateServiceRequestRequest NewCreate(
    const v1::ServiceRequest& request = MediatorInFlorence()) {
  v1::CreateServiceRequestRequest r;
  r.set_request_id(NewUuid());
  *r.mutable_request() = request;
  return r;
}

v1::RosterEntry Mediator(const std::string& code, std::vector<std::string> languages) {
  v1::RosterEntry e;
  e.set_code(code);
  e.set_kind(v1::ROSTER_MEDIATOR);
  for (const std::string& l : languages) e.add_languages(l);
  e.add_provinces("FI");
  e.add_provinces("PO");
  e.set_available(true);
  e.set_gender(v1::GENDER_FEMALE);
  return e;
}

std::vector<v1::ServiceEvent::Kind> KindsOf(const v1::ServiceRequestView& view) {
  std::vector<v1::ServiceEvent::Kind> kinds;
  for (const v1::ServiceEvent& e : view.events()) kinds.push_back(e.kind());
  return kinds;
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ServiceRequestsTest : public NetworkTest {
 protected:
  ServiceClient Client(const std::string& prefix) {
    return ServiceClient(ports_[prefix.substr(0, prefix.find('/'))], prefix);
  }
  size_t RequestsAt(const std::string& prefix) {
    auto list = Client(prefix).List();
    EXPECT_OK(list);
    return list.ok() ? list->requests_size() : 0;
  }
  // Toscana's roster: MED-0001 speaks pcm, MED-0002 only ara, MED-0003
  // speaks pcm but is away.
  void PutRoster() {
    ServiceClient op = Client("toscana/operator");
    ASSERT_OK(op.Put(Mediator("MED-0001", {"pcm", "eng"})));
    ASSERT_OK(op.Put(Mediator("MED-0002", {"ara"})));
    v1::RosterEntry away = Mediator("MED-0003", {"pcm"});
    away.set_available(false);
    ASSERT_OK(op.Put(away));
  }
};

TEST_F(ServiceRequestsTest, EachStepIsAllowedOnceInOrderAndRefusedOtherwiseNamingTheState) {
  StartAll();
  PutRoster();
  ServiceClient op = Client("toscana/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  const std::string id = create.request_id();
  auto created = op.Create(create);
  ASSERT_OK(created);
  EXPECT_EQ(created->summary().state(), v1::SERVICE_REQUESTED);
  EXPECT_EQ(created->summary().origin_node(), "toscana");
  EXPECT_EQ(created->request().requester(), create.request().requester());
  EXPECT_EQ(created->request().notes(), create.request().notes());
  EXPECT_EQ(KindsOf(*created), std::vector{v1::ServiceEvent::REQUESTED});
  EXPECT_EQ(created->events(0).actor(), "mir://toscana/operator/op1");

  const absl::Time in_window = absl::Now() + absl::Hours(30);
  // Not assigned yet: neither scheduled nor completed.
  auto early = op.Schedule(id, in_window);
  EXPECT_THAT(MIR_STATUS(early),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(std::string(early.status().message()), HasSubstr("SERVICE_REQUESTED"));
  EXPECT_THAT(MIR_STATUS(op.Complete(id, v1::OUTCOME_HELD)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  // Assign: an unknown code, one lacking the language, one away; then one that fits.
  EXPECT_THAT(MIR_STATUS(op.Assign(id, "MED-9999")),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_ROSTER_ENTRY));
  auto lacking = op.Assign(id, "MED-0002");
  EXPECT_THAT(MIR_STATUS(lacking),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_FIELD));
  EXPECT_THAT(std::string(lacking.status().message()), HasSubstr("language"));
  auto away = op.Assign(id, "MED-0003");
  EXPECT_THAT(MIR_STATUS(away), StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_FIELD));
  EXPECT_THAT(std::string(away.status().message()), HasSubstr("not available"));
  EXPECT_THAT(MIR_STATUS(op.Assign(id, "mario rossi")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto unchanged = op.Get(id);
  ASSERT_OK(unchanged);
  EXPECT_EQ(unchanged->events_size(), 1);  // refusals changed nothing

  auto assigned = op.Assign(id, "MED-0001");
  ASSERT_OK(assigned);
  EXPECT_EQ(assigned->summary().state(), v1::SERVICE_ASSIGNED);
  EXPECT_EQ(assigned->summary().roster_code(), "MED-0001");
  auto twice = op.Assign(id, "MED-0001");
  EXPECT_THAT(MIR_STATUS(twice),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(std::string(twice.status().message()), HasSubstr("SERVICE_ASSIGNED"));
  EXPECT_THAT(MIR_STATUS(op.Complete(id, v1::OUTCOME_HELD)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  // Schedule: outside the window (before, after) refused; inside it taken.
  for (absl::Time outside : {absl::Now() + absl::Hours(2), absl::Now() + absl::Hours(100)}) {
    auto refused = op.Schedule(id, outside);
    EXPECT_THAT(MIR_STATUS(refused),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("window"));
  }
  auto scheduled = op.Schedule(id, in_window);
  ASSERT_OK(scheduled);
  EXPECT_EQ(scheduled->summary().state(), v1::SERVICE_SCHEDULED);
  EXPECT_EQ(FromProtoTime(scheduled->summary().scheduled_at()),
            absl::FromUnixMicros(absl::ToUnixMicros(in_window)));
  EXPECT_THAT(MIR_STATUS(op.Schedule(id, in_window)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  // Complete: an outcome is required.
  EXPECT_THAT(MIR_STATUS(op.Complete(id, v1::SERVICE_OUTCOME_UNSPECIFIED)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto done = op.Complete(id, v1::OUTCOME_HELD);
  ASSERT_OK(done);
  EXPECT_EQ(done->summary().state(), v1::SERVICE_DONE);
  EXPECT_EQ(done->summary().outcome(), v1::OUTCOME_HELD);
  EXPECT_EQ(KindsOf(*done), (std::vector{v1::ServiceEvent::REQUESTED, v1::ServiceEvent::ASSIGNED,
                                         v1::ServiceEvent::SCHEDULED, v1::ServiceEvent::DONE}));

  // DONE is final.
  auto late = op.Cancel(id, v1::CANCEL_NO_LONGER_NEEDED);
  EXPECT_THAT(MIR_STATUS(late),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(std::string(late.status().message()), HasSubstr("SERVICE_DONE"));
  EXPECT_THAT(MIR_STATUS(op.Complete(id, v1::OUTCOME_HELD)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(MIR_STATUS(op.Get(NewUuid())),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_SERVICE_REQUEST));
  EXPECT_THAT(MIR_STATUS(op.Assign(NewUuid(), "MED-0001")),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_SERVICE_REQUEST));
}

TEST_F(ServiceRequestsTest, CancelIsAllowedFromEachOpenStateWithAReasonAndIsFinal) {
  StartAll();
  PutRoster();
  ServiceClient op = Client("toscana/operator");
  const absl::Time in_window = absl::Now() + absl::Hours(30);
  const std::vector<std::function<void(const std::string&)>> to_open_state = {
      [](const std::string&) {},
      [&](const std::string& id) { ASSERT_OK(op.Assign(id, "MED-0001")); },
      [&](const std::string& id) {
        ASSERT_OK(op.Assign(id, "MED-0001"));
        ASSERT_OK(op.Schedule(id, in_window));
      },
  };
  for (size_t i = 0; i < to_open_state.size(); ++i) {
    SCOPED_TRACE(i);
    const v1::CreateServiceRequestRequest create = NewCreate();
    ASSERT_OK(op.Create(create));
    to_open_state[i](create.request_id());
    EXPECT_THAT(MIR_STATUS(op.Cancel(create.request_id(), v1::SERVICE_CANCEL_REASON_UNSPECIFIED)),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    auto cancelled = op.Cancel(create.request_id(), v1::CANCEL_PERSON_UNREACHABLE);
    ASSERT_OK(cancelled);
    EXPECT_EQ(cancelled->summary().state(), v1::SERVICE_CANCELLED);
    EXPECT_EQ(cancelled->summary().cancel_reason(), v1::CANCEL_PERSON_UNREACHABLE);
    EXPECT_EQ(cancelled->events(cancelled->events_size() - 1).kind(), v1::ServiceEvent::CANCELLED);
    auto again = op.Cancel(create.request_id(), v1::CANCEL_OTHER);
    EXPECT_THAT(MIR_STATUS(again),
                StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
    EXPECT_THAT(std::string(again.status().message()), HasSubstr("SERVICE_CANCELLED"));
    EXPECT_THAT(MIR_STATUS(op.Assign(create.request_id(), "MED-0001")),
                StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  }
}

TEST_F(ServiceRequestsTest, CreatingAgainAnswersTheSameAndOtherContentIsAConflict) {
  StartAll();
  ServiceClient op = Client("toscana/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  auto first = op.Create(create);
  ASSERT_OK(first);
  auto again = op.Create(create);
  ASSERT_OK(again);
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(again->events_size(), 1);
  EXPECT_EQ(RequestsAt("toscana/operator"), 1u);
  v1::CreateServiceRequestRequest other = create;
  other.mutable_request()->set_language("ara");
  EXPECT_THAT(MIR_STATUS(op.Create(other)),
              StatusIsReason(StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  EXPECT_EQ(RequestsAt("toscana/operator"), 1u);
}

TEST_F(ServiceRequestsTest, BadInputGetsItsFieldNamedAndChangesNothing) {
  StartAll();
  ServiceClient op = Client("toscana/operator");
  struct Case {
    const char* name;
    std::function<void(v1::ServiceRequest&)> spoil;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"unknown language", [](auto& r) { r.set_language("xxq"); }, "language"},
      {"mediator without a language", [](auto& r) { r.clear_language(); }, "language"},
      {"window in the past",
       [](auto& r) {
         *r.mutable_window_start() = ToProtoTime(absl::Now() - absl::Hours(72));
         *r.mutable_window_end() = ToProtoTime(absl::Now() - absl::Hours(24));
       },
       "window_end"},
      {"window ending before it starts",
       [](auto& r) { *r.mutable_window_end() = ToProtoTime(absl::Now() + absl::Hours(12)); },
       "window_end"},
      {"no window", [](auto& r) { r.clear_window_start(); }, "window_start"},
      {"unknown province", [](auto& r) { r.set_province("XX"); }, "province"},
      {"in person without a province", [](auto& r) { r.clear_province(); }, "province"},
      {"same gender without one", [](auto& r) { r.clear_gender(); }, "gender"},
      {"no attendance", [](auto& r) { r.clear_attendance(); }, "attendance"},
      {"no kind", [](auto& r) { r.clear_kind(); }, "kind"},
      {"interview without a venue",
       [](auto& r) { r.set_kind(v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW); }, "venue"},
      {"undefined venue", [](auto& r) { r.set_venue(static_cast<v1::InterviewVenue>(99)); },
       "venue"},
      {"referral id not a UUID", [](auto& r) { r.set_referral_id("ref-1"); }, "referral_id"},
      {"requester over the limit",
       [](auto& r) { r.set_requester(std::string(broker::kMaxServiceRequesterBytes + 1, 'a')); },
       "requester"},
      {"control character", [](auto& r) { r.set_notes("a\x1b[2Jb"); }, "notes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ServiceRequest request = MediatorInFlorence();
    c.spoil(request);
    auto refused = op.Create(NewCreate(request));
    EXPECT_THAT(MIR_STATUS(refused),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(c.field));
    // Refusals name the field, never what was typed.
    EXPECT_THAT(std::string(refused.status().message()),
                ::testing::Not(HasSubstr("fictional-requester")));
  }
  v1::CreateServiceRequestRequest bad_id = NewCreate();
  bad_id.set_request_id("not-a-uuid");
  EXPECT_THAT(MIR_STATUS(op.Create(bad_id)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  v1::ServiceRequest unknown_referral = MediatorInFlorence();
  unknown_referral.set_referral_id(NewUuid());
  EXPECT_THAT(MIR_STATUS(op.Create(NewCreate(unknown_referral))),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  EXPECT_EQ(RequestsAt("toscana/operator"), 0u);

  // An interview at a Territorial Commission needs no language.
  v1::ServiceRequest interview = MediatorInFlorence();
  interview.set_kind(v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW);
  interview.clear_language();
  interview.set_venue(v1::VENUE_TERRITORIAL_COMMISSION);
  interview.set_referral_id(SubmitReferral("lombardia"));
  EXPECT_OK(op.Create(NewCreate(interview)));

  // The roster takes opaque codes and known codes only.
  struct RosterCase {
    const char* name;
    std::function<void(v1::RosterEntry&)> spoil;
    const char* field;
  };
  const std::vector<RosterCase> roster_cases = {
      {"a name as its code", [](auto& e) { e.set_code("Maria Rossi"); }, "code"},
      {"no code", [](auto& e) { e.clear_code(); }, "code"},
      {"unknown language", [](auto& e) { e.add_languages("xxq"); }, "languages[2]"},
      {"mediator without languages", [](auto& e) { e.clear_languages(); }, "languages"},
      {"unknown province", [](auto& e) { e.add_provinces("XX"); }, "provinces[2]"},
      {"no kind", [](auto& e) { e.clear_kind(); }, "kind"},
  };
  for (const RosterCase& c : roster_cases) {
    SCOPED_TRACE(c.name);
    v1::RosterEntry entry = Mediator("MED-0001", {"pcm", "eng"});
    c.spoil(entry);
    auto refused = op.Put(entry);
    EXPECT_THAT(MIR_STATUS(refused),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(c.field));
  }
  auto roster = op.Roster();
  ASSERT_OK(roster);
  EXPECT_EQ(roster->entries_size(), 0);
}

TEST_F(ServiceRequestsTest, OnlyTheNodesOwnOperators) {
  StartAll();
  EXPECT_THAT(MIR_STATUS(Client("toscana/partner").Create(NewCreate())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  EXPECT_THAT(MIR_STATUS(Client("toscana/console").Create(NewCreate())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::CONSOLE_PROOF));
  EXPECT_THAT(
      MIR_STATUS(ServiceClient(ports_["toscana"], "lombardia/operator").Create(NewCreate())),
      StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  EXPECT_THAT(MIR_STATUS(Client("toscana/partner").Put(Mediator("MED-0001", {"pcm"}))),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  EXPECT_THAT(MIR_STATUS(Client("toscana/partner").Roster()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  EXPECT_EQ(RequestsAt("toscana/operator"), 0u);
  // Each node's roster is its own.
  ASSERT_OK(Client("toscana/operator").Put(Mediator("MED-0001", {"pcm"})));
  auto lombardia = Client("lombardia/operator").Roster();
  ASSERT_OK(lombardia);
  EXPECT_EQ(lombardia->entries_size(), 0);
}

TEST_F(ServiceRequestsTest, EveryStepIsAServiceEventSignedByTheNode) {
  StartAll();
  PutRoster();
  ServiceClient op = Client("toscana/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  ASSERT_OK(op.Create(create));
  ASSERT_OK(op.Assign(create.request_id(), "MED-0001"));
  ASSERT_OK(op.Cancel(create.request_id(), v1::CANCEL_NO_ONE_AVAILABLE));
  std::vector<std::string> envelopes;
  ASSERT_OK(Store("toscana").Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(envelopes, txn.ServiceRequestEvents(create.request_id()));
    return absl::OkStatus();
  }));
  ASSERT_EQ(envelopes.size(), 3u);
  for (size_t i = 0; i < envelopes.size(); ++i) {
    SCOPED_TRACE(i);
    auto verified = NodeAt("toscana").verifier().Verify(envelopes[i]);
    ASSERT_OK(verified);
    EXPECT_EQ(verified->header.kind(), v1::SERVICE_EVENT);
    EXPECT_EQ(verified->author.Uri(), "mir://toscana/node");
    EXPECT_EQ(verified->header.sequence(), i + 1);
    v1::SignedServiceEvent body;
    ASSERT_TRUE(body.ParseFromString(verified->body));
    EXPECT_EQ(body.request_id(), create.request_id());
    EXPECT_EQ(body.event().actor(), "mir://toscana/operator/op1");
    // Signed without its sealed parts.
    EXPECT_TRUE(body.request().requester().empty());
    EXPECT_TRUE(body.request().notes().empty());
  }
  v1::SignedServiceEvent first;
  auto verified = NodeAt("toscana").verifier().Verify(envelopes[0]);
  ASSERT_OK(verified);
  ASSERT_TRUE(first.ParseFromString(verified->body));
  EXPECT_EQ(first.request().language(), "pcm");
  EXPECT_EQ(first.event().sealed_sha256().size(), 32u);
}

TEST_F(ServiceRequestsTest, RequesterAndNotesAreNotInTheFileInClear) {
  StartAll();
  ServiceClient op = Client("toscana/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  ASSERT_OK(op.Create(create));
  auto view = op.Get(create.request_id());
  ASSERT_OK(view);
  EXPECT_EQ(view->request().requester(), create.request().requester());
  const std::string file = options_["toscana"].database_path;
  StopNode("toscana");
  for (const std::string& path : {file, file + "-wal"}) {
    const std::string bytes = FileBytes(path);
    for (const char* secret : {"fictional-requester-4b1e", "fictional-notes-c9d0"}) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " in " << path;
    }
  }
}

// Service events stay at the node that signed them: one delivered through
// Exchange is refused, and nothing is stored.
TEST_F(ServiceRequestsTest, AServiceEventIsNeverDelivered) {
  StartAll();
  const Identity toscana{"toscana", Role::kNode, ""};
  v1::SignedServiceEvent body;
  body.set_request_id(NewUuid());
  body.set_sequence(1);
  body.mutable_event()->set_kind(v1::ServiceEvent::REQUESTED);
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::SERVICE_EVENT);
  header.set_recipient_node("lombardia");
  *header.mutable_created_at() = ToProtoTime(absl::Now());
  header.set_referral_id(body.request_id());
  header.set_sequence(1);
  auto event = PkiSigner("toscana/node")->SignEnvelope(header, body.SerializeAsString());
  ASSERT_OK(event);
  EXPECT_THAT(MIR_STATUS(NodeAt("lombardia").Deliver(toscana, *event)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));
  EXPECT_EQ(RequestsAt("lombardia/operator"), 0u);
}

// Toscana has no Pidgin mediator; it asks nvn, whose staff place the
// request with Lombardy; Lombardy serves it, and each of its steps reaches
// nvn and toscana as a SERVICE_UPDATE naming only its roster code.
TEST_F(ServiceRequestsTest, ARequestPlacedThroughNvnIsServedInLombardyAndTrackedBackHome) {
  StartAll();
  ServiceClient toscana = Client("toscana/operator");
  ServiceClient nvn = Client("nvn/operator");
  ServiceClient lombardia = Client("lombardia/operator");
  v1::ServiceRequest asked = MediatorInFlorence();
  asked.set_attendance(v1::ATTENDANCE_REMOTE);
  const v1::CreateServiceRequestRequest create = NewCreate(asked);
  const std::string& id = create.request_id();
  ASSERT_OK(toscana.Create(create));
  EXPECT_THAT(MIR_STATUS(toscana.Place(id, "toscana")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto placed = toscana.Place(id, "nvn");
  ASSERT_OK(placed);
  EXPECT_EQ(placed->summary().state(), v1::SERVICE_PLACED);
  EXPECT_EQ(placed->summary().placed_with(), "nvn");
  // Placed: its steps are taken where it went, not here.
  EXPECT_THAT(MIR_STATUS(toscana.Assign(id, "MED-0001")),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(MIR_STATUS(toscana.Place(id, "lombardia")),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  auto arrived_at = [&](ServiceClient& client) {
    return WaitFor([&] { return client.Get(id).ok(); });
  };
  ASSERT_TRUE(arrived_at(nvn));
  auto at_hub = nvn.Get(id);
  ASSERT_OK(at_hub);
  EXPECT_EQ(at_hub->summary().state(), v1::SERVICE_REQUESTED);
  EXPECT_EQ(at_hub->summary().origin_node(), "toscana");
  EXPECT_EQ(at_hub->summary().placed_from(), "toscana");
  EXPECT_EQ(at_hub->request().requester(), asked.requester());  // unsealed for its staff
  ASSERT_OK(nvn.Place(id, "lombardia"));

  ASSERT_TRUE(arrived_at(lombardia));
  v1::RosterEntry remote = Mediator("MED-LOM-0009", {"pcm"});
  ASSERT_OK(lombardia.Put(remote));
  ASSERT_OK(lombardia.Assign(id, "MED-LOM-0009"));
  // Whole microseconds: the store keeps no finer time.
  const absl::Time at = absl::FromUnixMicros(
      absl::ToUnixMicros(FromProtoTime(asked.window_start()) + absl::Hours(2)));
  ASSERT_OK(lombardia.Schedule(id, at));

  auto state_at = [&](ServiceClient& client, v1::ServiceRequestState state) {
    return WaitFor([&] {
      auto view = client.Get(id);
      return view.ok() && view->summary().state() == state;
    });
  };
  ASSERT_TRUE(state_at(nvn, v1::SERVICE_SCHEDULED));
  ASSERT_TRUE(state_at(toscana, v1::SERVICE_SCHEDULED));
  auto home = toscana.Get(id);
  ASSERT_OK(home);
  EXPECT_EQ(home->summary().roster_code(), "MED-LOM-0009");
  EXPECT_EQ(FromProtoTime(home->summary().scheduled_at()), at);
  EXPECT_EQ(KindsOf(*home), (std::vector{v1::ServiceEvent::REQUESTED, v1::ServiceEvent::PLACED,
                                         v1::ServiceEvent::UPDATED, v1::ServiceEvent::UPDATED}));
  EXPECT_EQ(home->events(2).node(), "nvn");
  EXPECT_EQ(home->events(3).state(), v1::SERVICE_SCHEDULED);

  ASSERT_OK(lombardia.Complete(id, v1::OUTCOME_HELD));
  ASSERT_TRUE(state_at(toscana, v1::SERVICE_DONE));
  home = toscana.Get(id);
  ASSERT_OK(home);
  EXPECT_EQ(home->summary().outcome(), v1::OUTCOME_HELD);
  // Toscana still holds nothing of lombardia's roster beyond the code.
  auto roster = toscana.Roster();
  ASSERT_OK(roster);
  for (const v1::RosterEntry& e : roster->entries()) EXPECT_NE(e.code(), "MED-LOM-0009");
}

// Recalled: toscana cancels a request it placed through nvn with lombardia;
// lombardia cancels it as its own staff would, and every node on the way
// ends CANCELLED with the reason, each timeline saying who asked.
TEST_F(ServiceRequestsTest, ARecalledRequestIsCancelledWhereItIsServedAndBackHome) {
  StartAll();
  ServiceClient toscana = Client("toscana/operator");
  ServiceClient nvn = Client("nvn/operator");
  ServiceClient lombardia = Client("lombardia/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  const std::string& id = create.request_id();
  ASSERT_OK(toscana.Create(create));
  ASSERT_OK(toscana.Place(id, "nvn"));
  ASSERT_TRUE(WaitFor([&] { return nvn.Get(id).ok(); }));
  ASSERT_OK(nvn.Place(id, "lombardia"));
  ASSERT_TRUE(WaitFor([&] { return lombardia.Get(id).ok(); }));
  ASSERT_OK(lombardia.Put(Mediator("MED-LOM-0009", {"pcm"})));
  ASSERT_OK(lombardia.Assign(id, "MED-LOM-0009"));
  auto state_at = [&](ServiceClient& client, v1::ServiceRequestState state) {
    return WaitFor([&] {
      auto view = client.Get(id);
      return view.ok() && view->summary().state() == state;
    });
  };
  ASSERT_TRUE(state_at(toscana, v1::SERVICE_ASSIGNED));

  EXPECT_THAT(MIR_STATUS(toscana.Cancel(id, v1::SERVICE_CANCEL_REASON_UNSPECIFIED)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto asked = toscana.Cancel(id, v1::CANCEL_REQUESTER_WITHDREW);
  ASSERT_OK(asked);
  // Still what lombardia last said, until lombardia says otherwise.
  EXPECT_EQ(asked->summary().state(), v1::SERVICE_ASSIGNED);
  ASSERT_EQ(KindsOf(*asked).back(), v1::ServiceEvent::CANCEL_ASKED);
  EXPECT_EQ(asked->events(asked->events_size() - 1).node(), "nvn");
  EXPECT_EQ(asked->events(asked->events_size() - 1).cancel_reason(), v1::CANCEL_REQUESTER_WITHDREW);

  ASSERT_TRUE(state_at(lombardia, v1::SERVICE_CANCELLED));
  ASSERT_TRUE(state_at(nvn, v1::SERVICE_CANCELLED));
  ASSERT_TRUE(state_at(toscana, v1::SERVICE_CANCELLED));
  auto served = lombardia.Get(id);
  ASSERT_OK(served);
  EXPECT_EQ(served->summary().cancel_reason(), v1::CANCEL_REQUESTER_WITHDREW);
  EXPECT_EQ(KindsOf(*served), (std::vector{v1::ServiceEvent::ARRIVED, v1::ServiceEvent::ASSIGNED,
                                           v1::ServiceEvent::CANCELLED}));
  EXPECT_EQ(served->events(2).node(), "nvn");  // who asked
  EXPECT_EQ(served->events(2).actor(), "mir://nvn/node");
  auto hub = nvn.Get(id);
  ASSERT_OK(hub);
  EXPECT_EQ(KindsOf(*hub), (std::vector{v1::ServiceEvent::ARRIVED, v1::ServiceEvent::PLACED,
                                        v1::ServiceEvent::UPDATED, v1::ServiceEvent::CANCEL_ASKED,
                                        v1::ServiceEvent::UPDATED}));
  EXPECT_EQ(hub->events(3).node(), "lombardia");
  auto home = toscana.Get(id);
  ASSERT_OK(home);
  EXPECT_EQ(home->summary().cancel_reason(), v1::CANCEL_REQUESTER_WITHDREW);
  EXPECT_EQ(KindsOf(*home).back(), v1::ServiceEvent::UPDATED);
  EXPECT_EQ(home->events(home->events_size() - 1).state(), v1::SERVICE_CANCELLED);
  // Cancelled: nothing more to recall.
  EXPECT_THAT(MIR_STATUS(toscana.Cancel(id, v1::CANCEL_OTHER)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
}

// While the serving node is down, asking again asks again: both asks wait
// in toscana's outbox, the first cancels the request at nvn and the second,
// arriving at a cancelled request, changes nothing.
TEST_F(ServiceRequestsTest, AskingTwiceWhileTheServingNodeIsDownCancelsItOnce) {
  StartAll();
  ServiceClient toscana = Client("toscana/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  const std::string& id = create.request_id();
  ASSERT_OK(toscana.Create(create));
  ASSERT_OK(toscana.Place(id, "nvn"));
  ASSERT_TRUE(WaitFor([&] { return Client("nvn/operator").Get(id).ok(); }));
  StopNode("nvn");

  ASSERT_OK(toscana.Cancel(id, v1::CANCEL_REQUESTER_WITHDREW));
  auto twice = toscana.Cancel(id, v1::CANCEL_OTHER);
  ASSERT_OK(twice);
  EXPECT_EQ(twice->summary().state(), v1::SERVICE_PLACED);
  EXPECT_EQ(KindsOf(*twice),
            (std::vector{v1::ServiceEvent::REQUESTED, v1::ServiceEvent::PLACED,
                         v1::ServiceEvent::CANCEL_ASKED, v1::ServiceEvent::CANCEL_ASKED}));
  EXPECT_EQ(twice->events(3).cancel_reason(), v1::CANCEL_OTHER);

  ASSERT_TRUE(StartNode("nvn"));
  ServiceClient nvn = Client("nvn/operator");
  ASSERT_TRUE(WaitFor([&] {
    auto view = toscana.Get(id);
    return view.ok() && view->summary().state() == v1::SERVICE_CANCELLED;
  }));
  auto served = nvn.Get(id);
  ASSERT_OK(served);
  EXPECT_EQ(served->summary().state(), v1::SERVICE_CANCELLED);
  EXPECT_EQ(served->summary().cancel_reason(), v1::CANCEL_REQUESTER_WITHDREW);  // the first ask
  EXPECT_EQ(KindsOf(*served),
            (std::vector{v1::ServiceEvent::ARRIVED, v1::ServiceEvent::CANCELLED}));
  // The second ask is delivered too (nothing stays pending) and adds nothing.
  ASSERT_TRUE(
      WaitFor([&] { return OutboxCount(Store("toscana"), storage::OutboxState::kPending) == 0; }));
  served = nvn.Get(id);
  ASSERT_OK(served);
  EXPECT_EQ(served->events_size(), 2);
}

// A SERVICE_UPDATE signed by `signer` for `recipient` about `request_id`.
std::string SignedUpdate(const std::string& signer, const std::string& recipient,
                         const std::string& request_id, v1::ServiceRequestState state,
                         v1::ServiceCancelReason reason) {
  v1::ServiceRequestUpdate update;
  update.set_request_id(request_id);
  update.set_state(state);
  update.set_cancel_reason(reason);
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::SERVICE_UPDATE);
  header.set_recipient_node(recipient);
  *header.mutable_created_at() = ToProtoTime(absl::Now());
  header.set_referral_id(request_id);
  auto bytes = PkiSigner(signer)->SignEnvelope(header, update.SerializeAsString());
  EXPECT_OK(bytes);
  return bytes.ok() ? *bytes : "";
}

// A request asked to be cancelled after it was done where it is served stays
// done; the placing node may only ask to cancel, with a reason.
TEST_F(ServiceRequestsTest, ARecallThatArrivesAfterTheServiceWasDoneChangesNothing) {
  StartAll();
  ServiceClient toscana = Client("toscana/operator");
  ServiceClient nvn = Client("nvn/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  const std::string& id = create.request_id();
  ASSERT_OK(toscana.Create(create));
  ASSERT_OK(toscana.Place(id, "nvn"));
  ASSERT_TRUE(WaitFor([&] { return nvn.Get(id).ok(); }));
  const Identity toscana_node{"toscana", Role::kNode, ""};

  // What toscana's node may not ask: a step other than CANCELLED, a
  // cancellation without its reason.
  EXPECT_THAT(MIR_STATUS(NodeAt("nvn").Deliver(
                  toscana_node, SignedUpdate("toscana/node", "nvn", id, v1::SERVICE_ASSIGNED,
                                             v1::SERVICE_CANCEL_REASON_UNSPECIFIED))),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(MIR_STATUS(NodeAt("nvn").Deliver(
                  toscana_node, SignedUpdate("toscana/node", "nvn", id, v1::SERVICE_CANCELLED,
                                             v1::SERVICE_CANCEL_REASON_UNSPECIFIED))),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  auto untouched = nvn.Get(id);
  ASSERT_OK(untouched);
  EXPECT_EQ(untouched->summary().state(), v1::SERVICE_REQUESTED);
  EXPECT_EQ(KindsOf(*untouched), (std::vector{v1::ServiceEvent::ARRIVED}));

  ASSERT_OK(nvn.Put(Mediator("MED-NVN-0001", {"pcm"})));
  ASSERT_OK(nvn.Assign(id, "MED-NVN-0001"));
  const absl::Time at = absl::FromUnixMicros(
      absl::ToUnixMicros(FromProtoTime(create.request().window_start()) + absl::Hours(1)));
  ASSERT_OK(nvn.Schedule(id, at));
  ASSERT_OK(nvn.Complete(id, v1::OUTCOME_HELD));
  // The cancellation overtaken by the service: taken in, nothing changed.
  EXPECT_OK(NodeAt("nvn").Deliver(toscana_node,
                                  SignedUpdate("toscana/node", "nvn", id, v1::SERVICE_CANCELLED,
                                               v1::CANCEL_REQUESTER_WITHDREW)));
  auto served = nvn.Get(id);
  ASSERT_OK(served);
  EXPECT_EQ(served->summary().state(), v1::SERVICE_DONE);
  EXPECT_EQ(KindsOf(*served).back(), v1::ServiceEvent::DONE);
  ASSERT_TRUE(WaitFor([&] {
    auto view = toscana.Get(id);
    return view.ok() && view->summary().state() == v1::SERVICE_DONE;
  }));
  EXPECT_THAT(MIR_STATUS(toscana.Cancel(id, v1::CANCEL_OTHER)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
}

// An update from a node the request was not placed with changes nothing.
TEST_F(ServiceRequestsTest, AnUpdateFromANodeItWasNotPlacedWithIsRefused) {
  StartAll();
  ServiceClient toscana = Client("toscana/operator");
  const v1::CreateServiceRequestRequest create = NewCreate();
  ASSERT_OK(toscana.Create(create));
  v1::ServiceRequestUpdate update;
  update.set_request_id(create.request_id());
  update.set_state(v1::SERVICE_CANCELLED);
  update.set_cancel_reason(v1::CANCEL_OTHER);
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::SERVICE_UPDATE);
  header.set_recipient_node("toscana");
  *header.mutable_created_at() = ToProtoTime(absl::Now());
  header.set_referral_id(create.request_id());
  auto bytes = PkiSigner("nvn/node")->SignEnvelope(header, update.SerializeAsString());
  ASSERT_OK(bytes);
  EXPECT_THAT(MIR_STATUS(NodeAt("toscana").Deliver(Identity{"nvn", Role::kNode, ""}, *bytes)),
              StatusIsReason(StatusCode::kPermissionDenied, v1::NOT_A_HOLDER));
  auto view = toscana.Get(create.request_id());
  ASSERT_OK(view);
  EXPECT_EQ(view->summary().state(), v1::SERVICE_REQUESTED);
}

// A SERVICE_REQUEST signed by toscana's node for lombardia, with `spoil`
// applied to its body before signing.
std::string SignedPlacement(broker::Node& toscana, const std::string& request_id,
                            const std::function<void(v1::ServiceRequestTransfer&)>& spoil = {}) {
  auto cert = toscana.keyring().CertificateFor("lombardia", absl::Now());
  EXPECT_OK(cert);
  const SecretKey key = NewReferralKey();
  v1::ServiceRequestTransfer transfer;
  transfer.set_request_id(request_id);
  *transfer.mutable_request() = MediatorInFlorence();
  transfer.mutable_request()->clear_requester();
  transfer.mutable_request()->clear_notes();
  transfer.set_origin_node("toscana");
  *transfer.mutable_created_at() = ToProtoTime(absl::Now());
  auto wrapped = WrapToRecipient(key, cert->public_key);
  EXPECT_OK(wrapped);
  transfer.set_wrapped_key(*wrapped);
  transfer.set_recipient_key_id(cert->key_id);
  v1::ServiceRequestPrivate part;
  part.set_requester("DEMO Commissione fittizia");
  auto sealed = Seal(key, "service-request", request_id, part.SerializeAsString(), RandomNonce());
  EXPECT_OK(sealed);
  *transfer.mutable_sealed() = *sealed;
  if (spoil) spoil(transfer);
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::SERVICE_REQUEST);
  header.set_recipient_node("lombardia");
  *header.mutable_created_at() = ToProtoTime(absl::Now());
  header.set_referral_id(request_id);
  auto bytes = PkiSigner("toscana/node")->SignEnvelope(header, transfer.SerializeAsString());
  EXPECT_OK(bytes);
  return bytes.ok() ? *bytes : "";
}

// Placements that must not be taken in are refused with their reason and
// store nothing; the same placement unspoilt is taken in, once.
TEST_F(ServiceRequestsTest, AHostilePlacementIsRefusedWithItsReasonAndStoresNothing) {
  StartAll();
  const Identity toscana{"toscana", Role::kNode, ""};
  struct Case {
    const char* name;
    std::function<void(v1::ServiceRequestTransfer&)> spoil;
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"sealed part altered", [](auto& t) { (*t.mutable_sealed()->mutable_ciphertext())[0] ^= 1; },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"requester in clear", [](auto& t) { t.mutable_request()->set_requester("DEMO in clear"); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"unknown language", [](auto& t) { t.mutable_request()->set_language("xxq"); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"wrapped to another key", [](auto& t) { t.set_recipient_key_id(std::string(16, 'x')); },
       StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY},
      {"body for another request", [](auto& t) { t.set_request_id(NewUuid()); },
       StatusCode::kInvalidArgument, v1::MALFORMED_BODY},
      {"not an origin node", [](auto& t) { t.set_origin_node("Not A Node"); },
       StatusCode::kInvalidArgument, v1::MALFORMED_BODY},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(
        MIR_STATUS(NodeAt("lombardia")
                       .Deliver(toscana, SignedPlacement(NodeAt("toscana"), NewUuid(), c.spoil))),
        StatusIsReason(c.code, c.reason));
  }
  EXPECT_EQ(RequestsAt("lombardia/operator"), 0u);

  const std::string id = NewUuid();
  const std::string good = SignedPlacement(NodeAt("toscana"), id);
  ASSERT_OK(NodeAt("lombardia").Deliver(toscana, good));
  ASSERT_OK(NodeAt("lombardia").Deliver(toscana, good));
  EXPECT_EQ(RequestsAt("lombardia/operator"), 1u);
  auto view = Client("lombardia/operator").Get(id);
  ASSERT_OK(view);
  EXPECT_EQ(view->summary().placed_from(), "toscana");
  EXPECT_EQ(view->request().requester(), "DEMO Commissione fittizia");
}

}  // namespace
}  // namespace mir::testing
