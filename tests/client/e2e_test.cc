// mirctl against three real brokers (nvn relaying between toscana and
// lombardia) over loopback mutual TLS: the client library and the in-process
// dispatcher, from submit through list and show to a closed MIR, and the
// error sentences a person sees when the node refuses.

#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/referrals_client.h"
#include "google/protobuf/util/json_util.h"
#include "sqlite3.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

using client::ConnectionOptions;
using client::ReferralsClient;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class MirctlTest : public NetworkTest {
 protected:
  void StartAll() {
    ASSERT_TRUE(StartNode("nvn"));
    ASSERT_TRUE(StartNode("toscana"));
    ASSERT_TRUE(StartNode("lombardia"));
  }
  static std::string PkiDir() {
    const std::string ca = PkiPath("ca.crt");
    return ca.substr(0, ca.size() - std::string("/ca.crt").size());
  }
  // `mirctl ARGS --node <as's node> --pki <test pki> --as AS`, in-process.
  // `adjust`, if set, changes the environment first (e.g. how it connects).
  Result Mirctl(const std::string& as, std::vector<std::string> args,
                const std::function<void(client::Environment&)>& adjust = nullptr) {
    const std::string node = as.substr(0, as.find('/'));
    for (const std::string& a : {std::string("--node"), Address(ports_[node]), std::string("--pki"),
                                 PkiDir(), std::string("--as"), as}) {
      args.push_back(a);
    }
    client::Environment env = client::ProcessEnvironment();
    env.getenv = [](const std::string&) { return std::optional<std::string>(); };
    if (adjust) adjust(env);
    std::ostringstream out, err;
    Result r;
    r.code = client::RunMirctl(args, env, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  // Runs a lifecycle command that must succeed.
  void Must(const std::string& as, const std::vector<std::string>& args) {
    Result r = Mirctl(as, args);
    ASSERT_EQ(r.code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    ASSERT_EQ(r.err, "");
  }
  std::unique_ptr<ReferralsClient> Connect(const std::string& as,
                                           const Clock* clock = RealClock::Get()) {
    ConnectionOptions o;
    o.clock = clock;
    o.address = Address(ports_[as.substr(0, as.find('/'))]);
    o.certificate = PkiPath(as + ".crt");
    o.key = PkiPath(as + ".key");
    o.ca = PkiPath("ca.crt");
    auto client = ReferralsClient::Connect(o);
    EXPECT_OK(client);
    return client.ok() ? std::move(*client) : nullptr;
  }
  bool StateIs(const std::string& node, const std::string& id, v1::ReferralState state) {
    return WaitFor([&] { return StateAt(Store(node), id) == state; });
  }
  // nvn takes `id`, submitted to it, into evaluation and routes it on to
  // lombardia, which takes it into evaluation.
  void RouteToLombardiaForEvaluation(const std::string& id) {
    ASSERT_TRUE(StateIs("nvn", id, v1::RECEIVED));
    Must("nvn/operator", {"evaluate", id});
    Must("nvn/operator", {"forward", id, "--to", "lombardia"});
    ASSERT_TRUE(StateIs("lombardia", id, v1::RECEIVED));
    Must("lombardia/operator", {"evaluate", id});
  }
  // The id from "referral <id> submitted to ...".
  static std::string SubmittedId(const std::string& out) {
    std::vector<std::string> words = absl::StrSplit(out, ' ');
    return words.size() > 1 ? words[1] : "";
  }
};

v1::Referral Fictional() {
  v1::Referral r;
  r.set_person_code("TOS-E2E1");
  r.set_urgency(v1::URGENCY_EMERGENCY_24H);
  r.set_danger_level(v1::DANGER_LEVEL_HIGH);
  r.add_requested_services(v1::SERVICE_EMERGENCY_SHELTER);
  r.add_languages("pcm");
  r.mutable_consent()->set_given(true);
  r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  return r;
}

TEST_F(MirctlTest, LibrarySubmitsListsAndShowsWithDeliveryProofs) {
  StartAll();
  auto anna = Connect("toscana/operator");
  ASSERT_NE(anna, nullptr);
  v1::Referral referral = Fictional();
  referral.set_destination_node("lombardia");
  auto submitted = anna->SubmitReferral(referral);
  ASSERT_OK(submitted);
  const std::string id = submitted->referral_id();
  EXPECT_EQ(submitted->state(), v1::SUBMITTED);
  ASSERT_EQ(submitted->message_ids_size(), 1);
  ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));

  v1::ListRequest outbound;
  outbound.set_direction(v1::DIRECTION_OUTBOUND);
  auto list = anna->List(outbound);
  ASSERT_OK(list);
  ASSERT_EQ(list->referrals_size(), 1);
  EXPECT_EQ(list->referrals(0).referral_id(), id);
  EXPECT_EQ(list->referrals(0).state(), v1::RECEIVED);
  EXPECT_TRUE(list->referrals(0).has_ack_deadline());  // the node's EMERGENCY_24H deadline
  EXPECT_THAT(client::FormatSummaries(*list, anna->identity().node),
              HasSubstr(absl::StrCat(id, "  out  EMERGENCY_24H  RECEIVED  toscana  lombardia")));

  // The receipt for the SUBMITTED envelope comes back; show sets it apart.
  ASSERT_TRUE(WaitFor([&] {
    auto view = anna->Get(id);
    return view.ok() && view->timeline_size() == 2 && view->timeline(0).delivery_size() == 1 &&
           view->timeline(0).delivery(0).status() == v1::DeliveryProof::DELIVERED;
  }));
  auto view = anna->Get(id);
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().person_code(), "TOS-E2E1");
  const std::string shown = client::FormatView(*view, "toscana");
  EXPECT_THAT(shown, HasSubstr("  person code         TOS-E2E1\n"));
  EXPECT_THAT(shown, HasSubstr("SUBMITTED  by mir://toscana/operator/op1 at toscana (#1)\n"
                               "        delivery: delivered to lombardia, receipt verified at "));
  EXPECT_THAT(shown, HasSubstr("RECEIVED   by mir://lombardia/node at lombardia (#1)\n"
                               "        delivery: received here"));
}

TEST_F(MirctlTest, MirctlDrivesACompleteMirThroughTheNationalNode) {
  StartAll();
  Result submitted =
      Mirctl("toscana/operator",
             {"submit", "--to", "nvn", "--consent", "--consent-method", "WRITTEN", "--person-code",
              "TOS-E2E2", "--urgency", "URGENT", "--service", "SECOND_RECEPTION", "--need",
              "PREGNANCY", "--language", "pcm", "--notes", "fictional person"});
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  ASSERT_THAT(
      submitted.out,
      HasSubstr(" submitted to nvn; state here: SUBMITTED (1 message queued for delivery)"));
  const std::string id = SubmittedId(submitted.out);
  ASSERT_NO_FATAL_FAILURE(RouteToLombardiaForEvaluation(id));
  Must("lombardia/operator", {"circulate", id, "--partner", "mir://lombardia/partner/shelter1"});
  Must("lombardia/partner",
       {"propose", id, "--project", "PRJ-LOM-07", "--available-from", "2025-03-04"});
  ASSERT_TRUE(StateIs("toscana", id, v1::PLACEMENT_PROPOSED));
  Must("toscana/operator", {"accept", id});
  Must("toscana/operator", {"schedule", id, "--date", "2025-03-05"});
  ASSERT_TRUE(StateIs("lombardia", id, v1::TRANSFER_SCHEDULED));
  Must("lombardia/partner", {"confirm", id, "--project", "PRJ-LOM-07"});
  ASSERT_TRUE(StateIs("nvn", id, v1::PLACEMENT_CONFIRMED));
  Must("nvn/operator", {"close", id});
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    SCOPED_TRACE(node);
    EXPECT_TRUE(StateIs(node, id, v1::CLOSED_POSITIVE));
  }

  Result list = Mirctl("toscana/operator", {"list", "--state", "CLOSED_POSITIVE"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out,
              HasSubstr(absl::StrCat(id, "  out  URGENT   CLOSED_POSITIVE  toscana  lombardia")));
  EXPECT_THAT(list.out, HasSubstr("1 referral\n"));

  Result show = Mirctl("toscana/operator", {"show", id});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out,
              StartsWith(absl::StrCat("Referral ", id, "\n  state        CLOSED_POSITIVE\n")));
  EXPECT_THAT(show.out, HasSubstr("  notes               fictional person\n"));
  EXPECT_THAT(show.out, HasSubstr("SUBMITTED            by mir://nvn/operator/op1 at nvn (#3)  "
                                  "reason: routed on to lombardia\n"));
  EXPECT_THAT(show.out,
              HasSubstr("PLACEMENT_CONFIRMED  by mir://lombardia/partner/shelter1 at lombardia"));
  EXPECT_THAT(show.out, HasSubstr("        delivery: delivered to nvn, receipt verified at "));

  // The partner sees the placement fields only, never the notes.
  Result partner = Mirctl("lombardia/partner", {"show", id});
  ASSERT_EQ(partner.code, 0) << partner.err;
  EXPECT_THAT(partner.out, Not(HasSubstr("fictional person")));
  EXPECT_THAT(partner.out, Not(HasSubstr("TOS-E2E2")));

  // --json is protobuf JSON that parses back.
  Result json = Mirctl("toscana/operator", {"list", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  v1::ListResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  ASSERT_EQ(parsed.referrals_size(), 1);
  EXPECT_EQ(parsed.referrals(0).state(), v1::CLOSED_POSITIVE);
}

// The national node routes a referral on to a region that rejects it; it
// then routes it on to another region, never back to one that had it. A
// region's evaluation is its own: the national node cannot move it away.
TEST_F(MirctlTest, ARejectedReferralIsRoutedOnToAnotherRegion) {
  AddRegion("progetto");
  StartAll();
  ASSERT_TRUE(StartNode("progetto"));
  Result submitted =
      Mirctl("toscana/operator", {"submit", "--to", "nvn", "--consent", "--person-code", "TOS-E2E4",
                                  "--urgency", "URGENT", "--notes", "fictional"});
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const std::string id = SubmittedId(submitted.out);
  ASSERT_NO_FATAL_FAILURE(RouteToLombardiaForEvaluation(id));
  ASSERT_TRUE(StateIs("nvn", id, v1::UNDER_EVALUATION));

  Result taken_away = Mirctl("nvn/operator", {"forward", id, "--to", "progetto"});
  EXPECT_EQ(taken_away.code, client::kExitFailed);
  EXPECT_EQ(taken_away.err,
            "mirctl forward: refused by the node: cannot move referral from UNDER_EVALUATION to "
            "SUBMITTED: it is under evaluation at lombardia, and only the national node's own "
            "evaluation is routed on.\n");

  Must("lombardia/operator", {"reject", id, "--reason", "NO_PLACES"});
  ASSERT_TRUE(StateIs("nvn", id, v1::REJECTED));
  ASSERT_TRUE(StateIs("toscana", id, v1::REJECTED));
  // Rejected, the referral goes back to nvn: lombardia keeps no personal data.
  Result at_lombardia = Mirctl("lombardia/operator", {"show", id});
  EXPECT_THAT(at_lombardia.out, HasSubstr("Sealed fields: erased at this node.\n"));
  EXPECT_THAT(at_lombardia.out, HasSubstr("(ON_REJECTION) by mir://lombardia/operator/op1\n"));
  EXPECT_THAT(at_lombardia.out, Not(HasSubstr("TOS-E2E4")));
  for (const char* had_it : {"lombardia", "toscana", "nvn"}) {
    SCOPED_TRACE(had_it);
    Result back = Mirctl("nvn/operator", {"forward", id, "--to", had_it});
    EXPECT_EQ(back.code, client::kExitFailed);
    EXPECT_THAT(back.err, StartsWith("mirctl forward: refused by the node: "));
  }
  EXPECT_TRUE(StateIs("nvn", id, v1::REJECTED));

  Must("nvn/operator", {"forward", id, "--to", "progetto", "--text", "places free"});
  ASSERT_TRUE(StateIs("progetto", id, v1::RECEIVED));
  ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));
  ASSERT_TRUE(StateIs("nvn", id, v1::RECEIVED));
  EXPECT_EQ(StateAt(Store("lombardia"), id), v1::REJECTED);  // its copy stays closed
  Result list = Mirctl("toscana/operator", {"list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr(absl::StrCat(id, "  out  URGENT   RECEIVED  toscana  progetto")));
  // The origin released the referral's key to the new destination: it reads
  // the sealed fields.
  Result at_progetto;
  ASSERT_TRUE(WaitFor([&] {
    at_progetto = Mirctl("progetto/operator", {"show", id});
    return at_progetto.out.find("TOS-E2E4") != std::string::npos;
  })) << at_progetto.out
      << at_progetto.err;
  Result show = Mirctl("toscana/operator", {"show", id});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, ContainsRegex("REJECTED +by mir://lombardia/operator/op1 at lombardia"));
  EXPECT_THAT(show.out, ContainsRegex("SUBMITTED +by mir://nvn/operator/op1 at nvn \\(#4\\)  "
                                      "reason: routed on to progetto: places free\n"));
  // The lifecycle goes on there as for any destination.
  Must("progetto/operator", {"evaluate", id});
  EXPECT_TRUE(StateIs("toscana", id, v1::UNDER_EVALUATION));
}

TEST_F(MirctlTest, RefusalsByTheNodeAreOneSentence) {
  StartAll();
  Result submitted =
      Mirctl("toscana/operator", {"submit", "--to", "lombardia", "--consent", "--person-code",
                                  "TOS-E2E3", "--urgency", "ORDINARY"});
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const std::string id = SubmittedId(submitted.out);
  ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));

  struct Case {
    std::string as;
    std::vector<std::string> args;
    int code;
    std::string err;
  } cases[] = {
      {"toscana/operator",
       {"accept", id},
       client::kExitFailed,
       "mirctl accept: refused by the node: cannot move referral from RECEIVED to "
       "PLACEMENT_ACCEPTED.\n"},
      {"toscana/partner",
       {"show", id},
       client::kExitFailed,
       absl::StrCat("mirctl show: refused by the node: referral ", id,
                    " is not known to you at this node.\n")},
      {"toscana/partner",
       {"submit", "--to", "nvn", "--consent", "--person-code", "X", "--urgency", "URGENT"},
       client::kExitFailed,
       "mirctl submit: only hotline operators can submit a referral, and "
       "mir://toscana/partner/shelter1 is not "
       "one.\n"},
      {"toscana/operator",
       {"circulate", id, "--partner", "mir://lombardia/partner/shelter1"},
       client::kExitFailed,
       "mirctl circulate: refused by the node: partner 'mir://lombardia/partner/shelter1' is not "
       "mir://toscana/partner/<name>.\n"},
      {"toscana/partner",
       {"dead-letters"},
       client::kExitFailed,
       "mirctl dead-letters: refused by the node: only operators may do this.\n"},
      {"toscana/operator",
       {"requeue", "5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f"},
       client::kExitFailed,
       "mirctl requeue: refused by the node: message 5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f is not a "
       "dead letter "
       "here.\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    Result r = Mirctl(c.as, c.args);
    EXPECT_EQ(r.code, c.code);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
  }
  // The origin may not evaluate its own referral: the node says who may.
  Result own = Mirctl("toscana/operator", {"evaluate", id});
  EXPECT_EQ(own.code, client::kExitFailed);
  EXPECT_THAT(own.err, StartsWith("mirctl evaluate: refused by the node: "));
  EXPECT_EQ(std::count(own.err.begin(), own.err.end(), '\n'), 1);

  // The node's refusal keeps its machine-readable reason for the library's callers.
  auto anna = Connect("toscana/operator");
  client::Action accept;
  accept.referral_id = id;
  accept.change.set_to_state(v1::PLACEMENT_ACCEPTED);
  EXPECT_THAT(MIR_STATUS(anna->Apply(accept)),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
}

TEST_F(MirctlTest, AHandshakeTheNodeRefusesIsOneSentence) {
  StartAll();
  const std::string address = Address(ports_["toscana"]);
  client::Environment env = client::ProcessEnvironment();
  env.getenv = [](const std::string&) { return std::optional<std::string>(); };
  std::ostringstream out, err;
  // A certificate of another network, trusting that network's CA: it checks
  // out locally, but the node's TLS refuses it.
  const int code = client::RunMirctl(
      {"list", "--node", address, "--cert", PkiPath("test/other-ca-operator.crt"), "--key",
       PkiPath("test/other-ca-operator.key"), "--ca", PkiPath("test/other-ca/ca.crt")},
      env, out, err);
  EXPECT_EQ(code, client::kExitNoContact);
  EXPECT_EQ(err.str(),
            absl::StrCat("mirctl list: the TLS handshake with the node at ", address,
                         " failed: is --ca the CA of its network, and was your certificate issued "
                         "by it?\n"));
}

// mirctl talks only to the node of the person's own certificate: pointed
// at another node of the same network, it stops at the handshake, before a
// request (and any referral in it) leaves, and says which node answered.
TEST_F(MirctlTest, AnotherNodeAtTheAddressGetsNothingAndIsNamed) {
  StartAll();
  const std::string address = Address(ports_["lombardia"]);
  client::Environment env = client::ProcessEnvironment();
  env.getenv = [](const std::string&) { return std::optional<std::string>(); };
  std::ostringstream out, err;
  const int code = client::RunMirctl(
      {"list", "--node", address, "--pki", PkiDir(), "--as", "toscana/operator"}, env, out, err);
  EXPECT_EQ(code, client::kExitNoContact);
  EXPECT_EQ(err.str(), absl::StrCat("mirctl list: the server at ", address,
                                    " is not your node, so nothing was sent: the server presented "
                                    "mir://lombardia/node, not mir://toscana/node; is --node the "
                                    "address of node toscana?\n"));
  EXPECT_EQ(out.str(), "");
}

TEST_F(MirctlTest, WatchStreamsNewReferralsAsTheyArrive) {
  StartAll();
  auto lombardia = Connect("lombardia/operator");
  auto anna = Connect("toscana/operator");
  v1::WatchEvent first;  // written by the watcher before it returns
  std::atomic<bool> connected{false};
  absl::Status watched;
  std::thread watcher([&] {
    watched = lombardia->Watch(
        [&](const v1::WatchEvent& event) {
          first = event;
          return false;  // one is enough
        },
        [&] { connected = true; });
  });
  ASSERT_TRUE(WaitFor([&] { return connected.load(); }));
  v1::Referral referral = Fictional();
  referral.set_destination_node("lombardia");
  const auto submitted = anna->SubmitReferral(referral);
  EXPECT_OK(submitted);
  if (!submitted.ok()) StopNode("lombardia");  // ends the watch
  watcher.join();
  EXPECT_OK(watched);
  EXPECT_EQ(first.referral().referral_id(), submitted.ok() ? submitted->referral_id() : "");
  EXPECT_EQ(first.referral().origin_node(), "toscana");
  EXPECT_EQ(first.referral().urgency(), v1::URGENCY_EMERGENCY_24H);
  EXPECT_THAT(client::FormatWatchEvent(first), HasSubstr("EMERGENCY_24H  toscana -> lombardia  "));
}

TEST_F(MirctlTest, AWatchThatLosesItsNodeSaysSo) {
  ASSERT_TRUE(StartNode("lombardia"));
  auto lombardia = Connect("lombardia/operator");
  std::atomic<bool> connected{false};
  absl::Status watched;
  std::thread watcher([&] {
    watched =
        lombardia->Watch([](const v1::WatchEvent&) { return true; }, [&] { connected = true; });
  });
  ASSERT_TRUE(WaitFor([&] { return connected.load(); }));
  StopNode("lombardia");
  watcher.join();
  EXPECT_TRUE(client::IsConnectionError(watched)) << watched;
  EXPECT_EQ(watched.message(),
            absl::StrCat("lost the connection to the node at ", Address(ports_["lombardia"]),
                         ": run mirctl watch again"));
}

TEST_F(MirctlTest, DeadLettersAreListedAndRequeued) {
  options_["toscana"].dead_letter_after = absl::Seconds(1);
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down: nothing can be delivered
  Result submitted = Mirctl(
      "toscana/operator",
      {"submit", "--to", "nvn", "--consent", "--person-code", "TOS-E2E4", "--urgency", "URGENT"});
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  ASSERT_TRUE(
      WaitFor([&] { return OutboxCount(Store("toscana"), storage::OutboxState::kDead) == 1; }));

  Result dead = Mirctl("toscana/operator", {"dead-letters"});
  ASSERT_EQ(dead.code, 0) << dead.err;
  EXPECT_THAT(dead.out, StartsWith("MESSAGE"));
  EXPECT_THAT(dead.out, HasSubstr(SubmittedId(submitted.out)));
  EXPECT_THAT(
      dead.out,
      HasSubstr("1 dead letter (retry with 'mirctl requeue MESSAGE' or 'mirctl requeue --all')"));

  // Back to the default patience (a requeued letter keeps its age), and nvn up.
  StopNode("toscana");
  options_["toscana"].dead_letter_after = absl::Hours(72);
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  Result requeued = Mirctl("toscana/operator", {"requeue", "--all"});
  ASSERT_EQ(requeued.code, 0) << requeued.err;
  EXPECT_EQ(requeued.out, "requeued 1 message for delivery\n");
  EXPECT_TRUE(StateIs("toscana", SubmittedId(submitted.out), v1::RECEIVED));
}

TEST_F(MirctlTest, NewReferralIsSubmittedUnderAHeaderTheClientMade) {
  StartAll();
  // The client's clock, apart from the nodes': the header's created_at shows
  // whose clock made it (Prepare would have used the node's).
  FakeClock client_clock(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 120));
  auto anna = Connect("toscana/operator", &client_clock);
  ASSERT_NE(anna, nullptr);
  v1::Referral referral = Fictional();
  referral.set_destination_node("lombardia");
  auto submitted = anna->SubmitReferral(referral);
  ASSERT_OK(submitted);
  const std::string id = submitted->referral_id();
  EXPECT_EQ(submitted->state(), v1::SUBMITTED);

  // Delivered like before: lombardia has it, and toscana its receipt and RECEIVED.
  ASSERT_TRUE(StateIs("lombardia", id, v1::RECEIVED));
  ASSERT_TRUE(WaitFor([&] {
    auto view = anna->Get(id);
    return view.ok() && view->timeline_size() == 2 && view->timeline(0).delivery_size() == 1 &&
           view->timeline(0).delivery(0).status() == v1::DeliveryProof::DELIVERED;
  }));
  auto view = anna->Get(id);
  ASSERT_OK(view);
  EXPECT_EQ(view->timeline(0).state(), v1::SUBMITTED);
  EXPECT_EQ(view->timeline(0).message_id(), submitted->message_ids(0));
  EXPECT_EQ(view->timeline(0).at().seconds(), absl::ToUnixSeconds(client_clock.Now()));
  EXPECT_EQ(view->timeline(0).at().nanos(), 0);

  // Without Prepare, mirctl itself refuses its own node as the destination.
  referral.set_destination_node("toscana");
  auto own_node = anna->SubmitReferral(referral);
  EXPECT_THAT(own_node.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(own_node.status().message(), HasSubstr("must name a node other than yours"));
}

// Holds the write lock of a node's database from outside, as a stalled disk
// would: the node's commits wait until it is released.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    db_.reset(db);
    if (rc == SQLITE_OK) sqlite3_busy_timeout(db, 5000);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    held_ = rc == SQLITE_OK;
  }
  bool held() const { return held_; }
  void Release() {
    if (held_) sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
    held_ = false;
  }
  ~WriteLock() { Release(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
  bool held_ = false;
};

TEST_F(MirctlTest, ASubmitWhoseAnswerIsLostIsSentAgainAndLandsOnce) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  // toscana cannot commit until mirctl gives up waiting for its first answer
  // (a third of --timeout: 2s, well inside the store's 5s busy timeout); it
  // commits that first submission once mirctl says it sends again.
  WriteLock stall(options_["toscana"].database_path);
  ASSERT_TRUE(stall.held());
  std::vector<std::string> resends;
  Result submitted =
      Mirctl("toscana/operator",
             {"submit", "--to", "nvn", "--consent", "--person-code", "TOS-E2E5", "--urgency",
              "EMERGENCY_24H", "--timeout", "6s"},
             [&](client::Environment& env) {
               env.connect = [&](const ConnectionOptions& o) {
                 ConnectionOptions options = o;
                 options.on_resend = [&, tell = o.on_resend](const std::string& sentence) {
                   resends.push_back(sentence);
                   stall.Release();
                   if (tell) tell(sentence);
                 };
                 return ReferralsClient::Connect(options);
               };
             });
  stall.Release();
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const std::string id = SubmittedId(submitted.out);
  ASSERT_GE(resends.size(), 1u);
  EXPECT_THAT(submitted.err, StartsWith(absl::StrCat("mirctl submit: no answer about message ")));
  EXPECT_THAT(submitted.err,
              HasSubstr(absl::StrCat(" on referral ", id,
                                     ": sending the same signed message again (2 of 3)\n")));
  EXPECT_THAT(submitted.err, Not(HasSubstr("TOS-E2E5")));

  // One referral, one event, one envelope queued, delivered once.
  ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));
  auto all = Store("toscana").ListReferrals(0);
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 1u);
  auto timeline = Store("toscana").Timeline(id);
  ASSERT_OK(timeline);
  ASSERT_EQ(timeline->size(), 2u);  // SUBMITTED here, RECEIVED from nvn
  EXPECT_EQ(timeline->at(0).to_state, v1::SUBMITTED);
  auto outbox = Store("toscana").OutboxForReferral(id);
  ASSERT_OK(outbox);
  EXPECT_EQ(outbox->size(), 1u);
  auto at_nvn = Store("nvn").ListReferrals(0);
  ASSERT_OK(at_nvn);
  EXPECT_EQ(at_nvn->size(), 1u);
}

}  // namespace
}  // namespace mir::testing
