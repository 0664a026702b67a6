// A node's console calls its broker as the person who signed in through it
// (PROTOCOL.md §13): real brokers, mutual TLS over loopback, the console's
// certificate from the test PKI and each person's sign-in proof in metadata.

#include <fstream>
#include <thread>

#include "absl/strings/str_replace.h"
#include "broker/authorization.h"
#include "broker/check_config.h"
#include "common/grpc_status.h"
#include "crypto/console_login.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using broker::Action;
using broker::Authorization;

constexpr char kChallenge[] = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA";

// A proof that `person` (a PKI prefix) signed in to `node`'s console at `at`.
std::string ProofBytes(const std::string& person, const std::string& node, absl::Time at) {
  auto signer = PkiSigner(person);
  const std::string statement =
      FormatConsoleLoginStatement({"https://127.0.0.1:7443", node, kChallenge, at});
  v1::ConsoleLoginProof proof;
  proof.set_statement(statement);
  proof.set_certificate(signer->certificate_der());
  proof.set_signature(*signer->Sign(ConsoleLoginSignedBytes(statement)));
  return proof.SerializeAsString();
}

// What mir-console does for one signed-in person: TLS as `console` (a PKI
// prefix), every call with `proofs` as mir-console-login-bin, envelopes
// signed by `signer` (the person's key, in the browser).
class ConsoleClient {
 public:
  ConsoleClient(int port, const std::string& console, std::vector<std::string> proofs,
                const std::string& signer)
      : proofs_(std::move(proofs)), signer_(PkiSigner(signer)) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadPkiFile("ca.crt");
    tls.pem_cert_chain = ReadPkiFile(console + ".crt");
    tls.pem_private_key = ReadPkiFile(console + ".key");
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel(Address(port), grpc::SslCredentials(tls), args);
    stub_ = v1::Referrals::NewStub(channel_);
  }

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    for (const std::string& proof : proofs_) {
      context.AddMetadata(std::string(kConsoleLoginMetadata), proof);
    }
  }
  template <typename Response, typename Call>
  absl::StatusOr<Response> Unary(Call call) {
    grpc::ClientContext context;
    Prepare(context);
    Response response;
    grpc::Status status = call(&context, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  absl::StatusOr<v1::ListResponse> List() {
    return Unary<v1::ListResponse>([&](grpc::ClientContext* c, v1::ListResponse* r) {
      return stub_->List(c, v1::ListRequest(), r);
    });
  }
  absl::StatusOr<v1::ReferralView> Get(const std::string& id) {
    v1::GetRequest request;
    request.set_referral_id(id);
    return Unary<v1::ReferralView>(
        [&](grpc::ClientContext* c, v1::ReferralView* r) { return stub_->Get(c, request, r); });
  }
  absl::StatusOr<v1::NodeStatus> NodeStatus() {
    return Unary<v1::NodeStatus>([&](grpc::ClientContext* c, v1::NodeStatus* r) {
      return stub_->GetNodeStatus(c, v1::NodeStatusRequest(), r);
    });
  }
  // Prepare, sign with `signer_`, Submit: a fictional referral to nvn.
  absl::StatusOr<v1::SubmitResponse> SubmitReferral() {
    v1::PrepareRequest prepare;
    prepare.set_kind(v1::REFERRAL);
    prepare.set_destination_node("nvn");
    auto prepared = Unary<v1::PrepareResponse>([&](grpc::ClientContext* c, v1::PrepareResponse* r) {
      return stub_->Prepare(c, prepare, r);
    });
    if (!prepared.ok()) return prepared.status();
    const std::string id = prepared->headers(0).referral_id();
    v1::Referral referral;
    referral.set_referral_id(id);
    referral.set_origin_node("toscana");
    referral.set_destination_node("nvn");
    referral.set_person_code("TEST-PERSON");
    referral.set_origin_case_ref("TEST-CASE");
    referral.set_urgency(v1::URGENCY_ORDINARY);
    referral.set_gender(v1::GENDER_FEMALE);
    referral.add_languages("eng");
    referral.add_needs(v1::NEED_PSYCHOLOGICAL);
    referral.add_exploitation_types(v1::EXPLOITATION_SEXUAL_INDOOR);
    referral.mutable_consent()->set_given(true);
    SealForTest(referral);
    v1::SubmitRequest submit;
    submit.set_referral_key(TestReferralKey(id));
    auto envelope = signer_->SignEnvelope(prepared->headers(0), referral.SerializeAsString());
    if (!envelope.ok()) return envelope.status();
    submit.add_envelopes(*envelope);
    return Unary<v1::SubmitResponse>(
        [&](grpc::ClientContext* c, v1::SubmitResponse* r) { return stub_->Submit(c, submit, r); });
  }
  v1::Referrals::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::vector<std::string> proofs_;
  std::unique_ptr<Signer> signer_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Referrals::Stub> stub_;
};

class ConsoleProofTest : public NetworkTest {
 protected:
  void StartToscana() {
    ASSERT_TRUE(StartNode("nvn"));
    ASSERT_TRUE(StartNode("toscana"));
  }
  // Whole seconds, as the statement carries them.
  static absl::Time Now() { return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())); }
  ConsoleClient Console(const std::string& person, std::vector<std::string> proofs = {},
                        const std::string& console = "toscana/console") {
    if (proofs.empty()) proofs.push_back(ProofBytes(person, "toscana", Now()));
    return ConsoleClient(ports_["toscana"], console, std::move(proofs), person);
  }
  // Every refusal of a console call: PERMISSION_DENIED CONSOLE_PROOF, the
  // message naming the underlying reason.
  static void ExpectProofRefused(const absl::Status& status, const std::string& why) {
    EXPECT_THAT(status, StatusIsReason(StatusCode::kPermissionDenied, v1::CONSOLE_PROOF));
    EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(why));
  }
};

TEST_F(ConsoleProofTest, AnOperatorListsAndSubmitsThroughTheConsole) {
  StartToscana();
  ConsoleClient anna = Console("toscana/operator");
  auto submitted = anna.SubmitReferral();
  ASSERT_OK(submitted);
  auto listed = anna.List();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(listed->referrals(0).referral_id(), submitted->referral_id());
  auto view = anna.Get(submitted->referral_id());
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().person_code(), "TEST-PERSON");  // the operator's view
  // The action is the person's: signed by and recorded as the operator.
  ASSERT_GE(view->timeline_size(), 1);
  EXPECT_EQ(view->timeline(0).actor(), "mir://toscana/operator/op1");
  // Operators-only calls too, as the operator.
  EXPECT_OK(anna.NodeStatus());
}

TEST_F(ConsoleProofTest, APartnerThroughTheConsoleSeesThePartnerViewOnly) {
  StartToscana();
  StaffClient operator_direct(ports_["toscana"], "toscana/operator");
  auto circulated = operator_direct.SubmitReferral("nvn");
  auto other = operator_direct.SubmitReferral("nvn");
  ASSERT_OK(circulated);
  ASSERT_OK(other);
  ASSERT_OK(operator_direct.Circulate(*circulated, "mir://toscana/partner/shelter1"));

  ConsoleClient partner = Console("toscana/partner");
  auto listed = partner.List();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(listed->referrals(0).referral_id(), *circulated);
  auto view = partner.Get(*circulated);
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().person_code(), "");
  EXPECT_EQ(view->referral().notes(), "");
  EXPECT_THAT(MIR_STATUS(partner.Get(*other)),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  EXPECT_THAT(MIR_STATUS(partner.NodeStatus()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  // A partner may not author a referral, through the console either.
  EXPECT_THAT(MIR_STATUS(partner.SubmitReferral()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

TEST_F(ConsoleProofTest, ConsoleCallsWithoutAValidProofAreRefused) {
  options_["toscana"].console_session_absolute = absl::Hours(1);
  StartToscana();
  const absl::Time now = Now();
  std::string tampered = ProofBytes("toscana/operator", "toscana", now);
  {
    v1::ConsoleLoginProof proof;
    ASSERT_TRUE(proof.ParseFromString(tampered));
    proof.mutable_signature()->at(5) ^= 1;
    tampered = proof.SerializeAsString();
  }
  struct Case {
    const char* name;
    std::vector<std::string> proofs;
    std::string why;
  } cases[] = {
      {"no proof", {}, "no sign-in proof"},
      {"two proofs",
       {ProofBytes("toscana/operator", "toscana", now),
        ProofBytes("toscana/partner", "toscana", now)},
       "more than one"},
      {"garbage", {"not a proof"}, "does not parse"},
      {"tampered signature", {tampered}, "BAD_SIGNATURE"},
      {"statement for another node",
       {ProofBytes("toscana/operator", "nvn", now)},
       "NOT_FOR_THIS_NODE"},
      {"person of another node", {ProofBytes("nvn/operator", "toscana", now)}, "ROLE_NOT_ALLOWED"},
      {"a node signs in", {ProofBytes("toscana/node", "toscana", now)}, "ROLE_NOT_ALLOWED"},
      {"expired certificate", {ProofBytes("test/expired", "toscana", now)}, "CERTIFICATE_EXPIRED"},
      {"other CA", {ProofBytes("test/other-ca-operator", "toscana", now)}, "UNTRUSTED_CERTIFICATE"},
      {"older than the allowed age",
       {ProofBytes("toscana/operator", "toscana", now - absl::Hours(1) - absl::Seconds(5))},
       "CONSOLE_PROOF"},
      {"from the future",
       {ProofBytes("toscana/operator", "toscana", now + absl::Minutes(10))},
       "CLOCK_SKEW"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ConsoleClient console(ports_["toscana"], "toscana/console", c.proofs, "toscana/operator");
    ExpectProofRefused(MIR_STATUS(console.List()), c.why);
    ExpectProofRefused(MIR_STATUS(console.SubmitReferral()), c.why);
  }
  // The console alone was never given an empty proof list: the first case
  // sent none. A console with no proof on Watch too.
  ConsoleClient bare(ports_["toscana"], "toscana/console", {}, "toscana/operator");
  grpc::ClientContext context;
  bare.Prepare(context);
  auto reader = bare.stub().Watch(&context, v1::WatchRequest());
  v1::WatchEvent event;
  EXPECT_FALSE(reader->Read(&event));
  ExpectProofRefused(FromGrpcStatus(reader->Finish()), "no sign-in proof");
}

TEST_F(ConsoleProofTest, AnotherNodesConsoleIsRefused) {
  StartToscana();
  ConsoleClient nvn_console = Console(
      "toscana/operator", {ProofBytes("toscana/operator", "toscana", Now())}, "nvn/console");
  EXPECT_THAT(MIR_STATUS(nvn_console.List()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  EXPECT_THAT(MIR_STATUS(nvn_console.SubmitReferral()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
}

TEST_F(ConsoleProofTest, AConsoleCannotSubmitWhatItSignedItself) {
  StartToscana();
  // Anna signed in; the console signs the referral with its own key.
  ConsoleClient console =
      ConsoleClient(ports_["toscana"], "toscana/console",
                    {ProofBytes("toscana/operator", "toscana", Now())}, "toscana/console");
  EXPECT_THAT(MIR_STATUS(console.SubmitReferral()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  auto listed = console.List();
  ASSERT_OK(listed);
  EXPECT_EQ(listed->referrals_size(), 0);
}

TEST_F(ConsoleProofTest, AConsoleDeliversNothingOnExchange) {
  StartToscana();
  ExchangeClient exchange(ports_["toscana"], "toscana/console");
  auto anna = PkiSigner("toscana/operator");
  EXPECT_THAT(MIR_STATUS(exchange.Deliver(SignReferral(*anna, NewUuid(), "toscana"))),
              StatusIsReason(StatusCode::kPermissionDenied, v1::PEER_MISMATCH));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetRegistryResponse registry;
  const grpc::Status status =
      exchange.stub()->GetRegistry(&context, v1::GetRegistryRequest(), &registry);
  EXPECT_THAT(FromGrpcStatus(status),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

TEST_F(ConsoleProofTest, WatchActsForThePersonAndEndsWhenTheProofAgesOut) {
  // Long enough for a loaded machine to open the stream within it.
  options_["toscana"].console_session_absolute = absl::Seconds(6);
  StartToscana();
  StaffClient operator_direct(ports_["toscana"], "toscana/operator");
  const absl::Time signed_in = Now();
  ConsoleClient anna =
      Console("toscana/operator", {ProofBytes("toscana/operator", "toscana", signed_in)});
  grpc::ClientContext context;
  anna.Prepare(context);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = anna.stub().Watch(&context, v1::WatchRequest());
  reader->WaitForInitialMetadata();
  auto first = operator_direct.SubmitReferral("nvn");
  ASSERT_OK(first);
  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.referral().referral_id(), *first);

  // Past the proof's age: the next event ends the stream instead.
  absl::SleepFor(signed_in + absl::Seconds(7) - absl::Now());
  ASSERT_OK(operator_direct.SubmitReferral("nvn"));
  while (reader->Read(&event)) EXPECT_EQ(event.referral().referral_id(), *first);
  ExpectProofRefused(FromGrpcStatus(reader->Finish()), "older than the allowed age");
  // And the same proof, remembered as verified, is now refused too.
  ExpectProofRefused(MIR_STATUS(anna.List()), "older than the allowed age");
}

TEST_F(ConsoleProofTest, ARevokedPersonIsCutOffAtOnceWatchIncluded) {
  StartToscana();
  StaffClient operator_direct(ports_["toscana"], "toscana/operator");
  ConsoleClient revoked = Console("test/revoked-operator");  // no CRL loaded yet
  ASSERT_OK(revoked.List());
  grpc::ClientContext context;
  revoked.Prepare(context);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = revoked.stub().Watch(&context, v1::WatchRequest());
  reader->WaitForInitialMetadata();

  ASSERT_OK(NodeAt("toscana").mutable_verifier().Reload(
      {ReadPkiFile("ca.crt"), {ReadPkiFile("crl.pem")}}));
  ASSERT_OK(operator_direct.SubmitReferral("nvn"));
  v1::WatchEvent event;
  EXPECT_FALSE(reader->Read(&event));
  ExpectProofRefused(FromGrpcStatus(reader->Finish()), "REVOKED");
  // The proof, remembered as verified, is refused from the next call on.
  ExpectProofRefused(MIR_STATUS(revoked.List()), "REVOKED");
}

TEST(ConsoleAuthorizationTest, TheConsoleRoleAloneMayDoNothing) {
  const Authorization authz("toscana", "nvn", {"nvn"});
  const Identity own{"toscana", Role::kConsole, ""};
  const Identity other{"nvn", Role::kConsole, ""};
  for (Action action :
       {Action::kList, Action::kGet, Action::kWatch, Action::kPrepare, Action::kSubmit,
        Action::kCirculate, Action::kListDeadLetters, Action::kRequeue, Action::kErase,
        Action::kLegalHold, Action::kNodeStatus}) {
    SCOPED_TRACE(broker::ActionName(action));
    EXPECT_THAT(authz.Check(own, action),
                StatusIsReason(StatusCode::kPermissionDenied, v1::CONSOLE_PROOF));
    EXPECT_THAT(authz.Check(other, action),
                StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  }
  EXPECT_THAT(authz.Check(own, Action::kDeliver),
              StatusIsReason(StatusCode::kPermissionDenied, v1::PEER_MISMATCH));
  EXPECT_THAT(authz.Check(own, Action::kRouteOn),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  // ConsolePerson serves this node's console only.
  FakeClock clock(absl::Now());
  auto verifier = Verifier::FromCaPem(ReadPkiFile("ca.crt"), &clock);
  ASSERT_OK(verifier);
  EXPECT_THAT(MIR_STATUS(authz.ConsolePerson(other, {}, **verifier, clock.Now(), absl::Hours(1))),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  const Identity anna{"toscana", Role::kOperator, "op1"};
  EXPECT_THAT(MIR_STATUS(authz.ConsolePerson(anna, {}, **verifier, clock.Now(), absl::Hours(1))),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
}

// mir-broker --check-config checks the console's section: its certificate is
// this node's console, with its key, valid now; its files exist.
TEST(ConsoleCheckConfigTest, TheConsoleSectionIsChecked) {
  const std::string dir = NewTempDir();
  auto config = [&](const std::string& from = "", const std::string& to = "") {
    std::string json = absl::StrCat(R"({
  "nodeId": "toscana", "listenAddress": "127.0.0.1:7102",
  "databasePath": ")",
                                    dir, R"(/toscana.db",
  "caCertificate": ")",
                                    PkiPath("ca.crt"), R"(",
  "nodeCertificate": ")",
                                    PkiPath("toscana/node.crt"), R"(",
  "nodeKey": ")",
                                    PkiPath("toscana/node.key"), R"(",
  "peers": {"nvn": "127.0.0.1:7101"}, "routes": {"*": "nvn"},
  "privacy": {"encryptionKeys": [{"key": ")",
                                    PkiPath("toscana/enc.key"), R"(",
                                  "certificate": ")",
                                    PkiPath("toscana/enc.crt"), R"("}],
              "encryptionCertificatesDir": ")",
                                    PkiPath("enc"), R"(",
              "keyEncryptionKey": ")",
                                    PkiPath("toscana/kek.hex"), R"("},
  "console": {"listenAddress": "127.0.0.1:7443",
              "httpsCertificate": ")",
                                    PkiPath("toscana/console-https.crt"), R"(",
              "httpsKey": ")",
                                    PkiPath("toscana/console-https.key"), R"(",
              "certificate": ")",
                                    PkiPath("toscana/console.crt"), R"(",
              "key": ")",
                                    PkiPath("toscana/console.key"), R"(",
              "sessionIdleS": 900, "sessionAbsoluteS": 43200}
})");
    if (!from.empty()) {
      EXPECT_NE(json.find(from), std::string::npos) << from;
      json = absl::StrReplaceAll(json, {{from, to}});
    }
    const std::string path = absl::StrCat(dir, "/node.json");
    std::ofstream(path) << json;
    return path;
  };
  EXPECT_OK(broker::CheckConfig(config(), absl::Now()));
  auto options =
      broker::LoadConfigFile(config(R"("sessionAbsoluteS": 43200)", R"("sessionAbsoluteS": 3600)"));
  ASSERT_OK(options);
  EXPECT_EQ(options->console_session_absolute, absl::Hours(1));
  struct Case {
    std::string name, from, to, field;
  } cases[] = {
      {"another node's console", "toscana/console.", "nvn/console.", "'console.certificate'"},
      {"an operator's certificate", "toscana/console.", "toscana/operator.",
       "'console.certificate'"},
      {"key of another certificate", "toscana/console.key", "nvn/console.key", "'console.key'"},
      {"certificate missing", "toscana/console.crt", "toscana/none.crt", "'console.certificate'"},
      {"HTTPS key missing", "toscana/console-https.key", "toscana/none.key", "'console.https_key'"},
      {"idle longer than absolute", R"("sessionIdleS": 900)", R"("sessionIdleS": 90000)",
       "'console.session_idle_s'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const absl::Status status = broker::CheckConfig(config(c.from, c.to), absl::Now());
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find(c.field), absl::string_view::npos) << status;
  }
}

}  // namespace
}  // namespace mir::testing
