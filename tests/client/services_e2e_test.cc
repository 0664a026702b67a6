// `mirctl service ...` against a real broker over loopback mutual TLS, with
// the test PKI's personal certificates: a mediator request created (and
// created again under its id), the roster kept, an assignment refused with
// its reason and then made, scheduled, done, a second completion refused; an
// interview cancelled; unknown ids; partners refused. Nothing but `service
// show` prints the requester or the notes.

#include <functional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "client/service_requests_client.h"
#include "crypto/envelope_bytes.h"
#include "google/protobuf/util/json_util.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

using client::ConnectionOptions;
using client::ServiceRequestsClient;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Fictional, and easy to find if it leaks.
constexpr char kRequester[] = "fictional-e2e-requester Commissione";
constexpr char kNotes[] = "fictional-e2e-notes afternoons only";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

void ExpectNoSealedText(const Result& r) {
  for (const std::string& s : {r.out, r.err}) {
    EXPECT_THAT(s, Not(HasSubstr(kRequester)));
    EXPECT_THAT(s, Not(HasSubstr(kNotes)));
  }
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The id from "service request <id> created: ...".
std::string CreatedId(const std::string& out) {
  std::vector<std::string> words = absl::StrSplit(out, ' ');
  return words.size() > 2 ? words[2] : "";
}

// The words of the first line of `text` starting with `id`.
std::vector<std::string> RowOf(const std::string& text, const std::string& id) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, id)) return absl::StrSplit(line, ' ', absl::SkipEmpty());
  }
  return {};
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

class MirctlServicesTest : public NetworkTest {
 protected:
  // A whole hour two days from now: the window runs three days from it.
  MirctlServicesTest()
      : from_(absl::FromUnixSeconds((absl::ToUnixSeconds(absl::Now()) / 3600 + 48) * 3600)),
        to_(from_ + absl::Hours(72)) {}

  static std::string PkiDir() {
    const std::string ca = PkiPath("ca.crt");
    return ca.substr(0, ca.size() - std::string("/ca.crt").size());
  }
  // `mirctl ARGS --node <as's node> --pki <test pki> --as AS`, in-process.
  Result Mirctl(const std::string& as, std::vector<std::string> args) {
    const std::string node = as.substr(0, as.find('/'));
    for (const std::string& a : {std::string("--node"), Address(ports_[node]), std::string("--pki"),
                                 PkiDir(), std::string("--as"), as}) {
      args.push_back(a);
    }
    client::Environment env = client::ProcessEnvironment();
    env.getenv = [](const std::string&) { return std::optional<std::string>(); };
    std::ostringstream out, err;
    Result r;
    r.code = client::RunMirctl(args, env, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  // `mirctl service request` for a Pidgin-speaking woman mediator in
  // Florence, plus `more`.
  std::vector<std::string> MediatorRequest(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"service",    "request",      "--kind",        "mediator",
                                     "--language", "pcm",          "--same-gender", "--gender",
                                     "female",     "--attendance", "in-person",     "--province",
                                     "FI",         "--from",       Rfc3339(from_),  "--to",
                                     Rfc3339(to_), "--requester",  kRequester,      "--notes",
                                     kNotes};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  std::unique_ptr<ServiceRequestsClient> Connect(const std::string& as) {
    ConnectionOptions o;
    o.address = Address(ports_[as.substr(0, as.find('/'))]);
    o.certificate = PkiPath(as + ".crt");
    o.key = PkiPath(as + ".key");
    o.ca = PkiPath("ca.crt");
    auto client = ServiceRequestsClient::Connect(o);
    EXPECT_OK(client);
    return client.ok() ? std::move(*client) : nullptr;
  }

  const absl::Time from_;
  const absl::Time to_;
};

TEST_F(MirctlServicesTest, CreateRosterAssignScheduleDone) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string op = "toscana/operator";

  Result created = Mirctl(op, MediatorRequest());
  ASSERT_EQ(created.code, client::kExitOk) << created.err;
  EXPECT_EQ(created.err, "");
  const std::string id = CreatedId(created.out);
  ASSERT_TRUE(IsCanonicalUuid(id)) << created.out;
  EXPECT_EQ(created.out,
            absl::StrCat("service request ", id, " created: REQUESTED, awaiting a roster entry\n"));
  ExpectNoSealedText(created);

  // The same request under the same id: the first answer, recorded once.
  Result again = Mirctl(op, MediatorRequest({"--id", id}));
  ASSERT_EQ(again.code, client::kExitOk) << again.err;
  EXPECT_EQ(again.out, created.out);
  // Other content under that id: refused, and nothing changes.
  Result other = Mirctl(op, MediatorRequest({"--id", id, "--referral", NewUuid()}));
  EXPECT_EQ(other.code, client::kExitFailed);
  EXPECT_THAT(other.err, StartsWith("mirctl service request: refused by the node: "));
  ExpectNoSealedText(other);

  Result empty = Mirctl(op, {"service", "roster", "list"});
  ASSERT_EQ(empty.code, client::kExitOk) << empty.err;
  EXPECT_EQ(empty.out, "the roster is empty\n");

  // A mediator who does not speak Pidgin: the assignment is refused, saying why.
  Result put = Mirctl(op, {"service", "roster", "put", "med-0007", "--type", "mediator",
                           "--language", "eng", "--province", "FI", "--gender", "female"});
  ASSERT_EQ(put.code, client::kExitOk) << put.err;
  EXPECT_EQ(put.out, "roster entry MED-0007 saved: MEDIATOR, available\n");
  Result unfit = Mirctl(op, {"service", "assign", id, "--roster", "MED-0007"});
  EXPECT_EQ(unfit.code, client::kExitFailed);
  EXPECT_EQ(unfit.out, "");
  EXPECT_THAT(unfit.err, StartsWith("mirctl service assign: refused by the node: "));
  EXPECT_THAT(unfit.err, HasSubstr("MED-0007, who does not speak the request's language"));
  EXPECT_EQ(Occurrences(unfit.err, "\n"), 1u);
  // An entry that does not exist.
  Result nobody = Mirctl(op, {"service", "assign", id, "--roster", "MED-0099"});
  EXPECT_EQ(nobody.code, client::kExitFailed);
  EXPECT_THAT(nobody.err, HasSubstr("no roster entry MED-0099 at this node"));

  // Replaced: now she speaks it too.
  put = Mirctl(op,
               {"service", "roster", "put", "MED-0007", "--type", "mediator", "--language", "pcm",
                "--language", "eng", "--province", "FI", "--province", "PO", "--gender", "female"});
  ASSERT_EQ(put.code, client::kExitOk) << put.err;
  ASSERT_EQ(
      Mirctl(op, {"service", "roster", "put", "CON-1", "--type", "consultant", "--unavailable"})
          .code,
      client::kExitOk);
  Result roster = Mirctl(op, {"service", "roster", "list"});
  ASSERT_EQ(roster.code, client::kExitOk) << roster.err;
  EXPECT_EQ(absl::StrJoin(RowOf(roster.out, "MED-0007"), " "),
            "MED-0007 MEDIATOR pcm,eng FI,PO FEMALE yes");
  EXPECT_EQ(absl::StrJoin(RowOf(roster.out, "CON-1"), " "), "CON-1 CONSULTANT - - - no");
  EXPECT_THAT(roster.out, HasSubstr("\n2 roster entries, 1 available\n"));

  Result assigned = Mirctl(op, {"service", "assign", id, "--roster", "MED-0007"});
  ASSERT_EQ(assigned.code, client::kExitOk) << assigned.err;
  EXPECT_EQ(assigned.out,
            absl::StrCat("service request ", id, ": ASSIGNED to MED-0007, to be scheduled\n"));
  ExpectNoSealedText(assigned);

  // Outside the window: refused.
  Result late = Mirctl(op, {"service", "schedule", id, "--at", Rfc3339(to_ + absl::Hours(1))});
  EXPECT_EQ(late.code, client::kExitFailed);
  EXPECT_THAT(late.err, StartsWith("mirctl service schedule: refused by the node: "));
  EXPECT_THAT(late.err, HasSubstr("within the request's window"));
  const absl::Time at = from_ + absl::Hours(25);
  Result scheduled = Mirctl(op, {"service", "schedule", id, "--at", Rfc3339(at)});
  ASSERT_EQ(scheduled.code, client::kExitOk) << scheduled.err;
  EXPECT_EQ(scheduled.out, absl::StrCat("service request ", id, ": SCHEDULED at ",
                                        absl::FormatTime("%Y-%m-%d %H:%M", at, absl::UTCTimeZone()),
                                        " UTC with MED-0007\n"));

  Result done = Mirctl(op, {"service", "done", id, "--outcome", "held"});
  ASSERT_EQ(done.code, client::kExitOk) << done.err;
  EXPECT_EQ(done.out, absl::StrCat("service request ", id, ": DONE, HELD\n"));

  // DONE is final: a second completion and a cancellation are refused, saying why.
  Result twice = Mirctl(op, {"service", "done", id, "--outcome", "person-absent"});
  EXPECT_EQ(twice.code, client::kExitFailed);
  EXPECT_THAT(twice.err,
              StartsWith(absl::StrCat("mirctl service done: refused by the node: service request ",
                                      id, " is ")));
  EXPECT_THAT(twice.err, HasSubstr("only a SCHEDULED request is completed"));
  EXPECT_EQ(Occurrences(twice.err, "\n"), 1u);
  Result late_cancel = Mirctl(op, {"service", "cancel", id, "--reason", "other"});
  EXPECT_EQ(late_cancel.code, client::kExitFailed);
  auto client = Connect(op);
  ASSERT_NE(client, nullptr);
  v1::CompleteServiceRequestRequest complete;
  complete.set_request_id(id);
  complete.set_outcome(v1::OUTCOME_OTHER);
  EXPECT_THAT(MIR_STATUS(client->Complete(complete)),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  Result list = Mirctl(op, {"service", "list"});
  ASSERT_EQ(list.code, client::kExitOk) << list.err;
  const std::vector<std::string> row = RowOf(list.out, id);
  ASSERT_GE(row.size(), 6u) << list.out;
  EXPECT_EQ(absl::StrJoin(row.begin(), row.begin() + 6, " "),
            absl::StrCat(id, " DONE MEDIATOR pcm IN_PERSON FI"));
  EXPECT_THAT(list.out, HasSubstr("MED-0007"));
  EXPECT_THAT(list.out, HasSubstr("\n1 service request\n"));
  ExpectNoSealedText(list);
  EXPECT_EQ(Mirctl(op, {"service", "list", "--state", "requested"}).out,
            "no service requests match\n");
  Result json = Mirctl(op, {"service", "list", "--state", "done", "--json"});
  ASSERT_EQ(json.code, client::kExitOk) << json.err;
  v1::ListServiceRequestsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  ASSERT_EQ(parsed.requests_size(), 1);
  EXPECT_EQ(parsed.requests(0).request_id(), id);

  // Only show prints the sealed parts.
  Result shown = Mirctl(op, {"service", "show", id});
  ASSERT_EQ(shown.code, client::kExitOk) << shown.err;
  EXPECT_THAT(shown.out,
              StartsWith(absl::StrCat("Service request ", id, "\n  state    DONE, HELD\n")));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  requester    ", kRequester, "\n")));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  notes        ", kNotes, "\n")));
  EXPECT_THAT(shown.out, HasSubstr("  same gender  wanted: FEMALE\n"));
  for (const char* kind : {"REQUESTED", "ASSIGNED ", "SCHEDULED", "DONE     "}) {
    EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  ", kind, "  by mir://toscana/operator/")));
  }
  EXPECT_THAT(shown.out, HasSubstr("  outcome HELD\n"));
}

TEST_F(MirctlServicesTest, AnInterviewIsCancelledWithItsReason) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string op = "toscana/operator";
  Result created = Mirctl(
      op, {"service", "request", "--kind", "identification-interview", "--attendance", "remote",
           "--venue", "territorial-commission", "--from", Rfc3339(from_), "--to", Rfc3339(to_)});
  ASSERT_EQ(created.code, client::kExitOk) << created.err;
  const std::string id = CreatedId(created.out);
  ASSERT_TRUE(IsCanonicalUuid(id)) << created.out;

  Result cancelled = Mirctl(op, {"service", "cancel", id, "--reason", "no-one-available"});
  ASSERT_EQ(cancelled.code, client::kExitOk) << cancelled.err;
  EXPECT_EQ(cancelled.out, absl::StrCat("service request ", id, ": CANCELLED, NO_ONE_AVAILABLE\n"));
  // CANCELLED is final.
  Result assign = Mirctl(op, {"service", "assign", id, "--roster", "CON-1"});
  EXPECT_EQ(assign.code, client::kExitFailed);
  EXPECT_THAT(assign.err, HasSubstr("only a request still REQUESTED is assigned"));

  Result shown = Mirctl(op, {"service", "show", id});
  ASSERT_EQ(shown.code, client::kExitOk) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("  venue        TERRITORIAL_COMMISSION\n"));
  EXPECT_THAT(shown.out, HasSubstr("  reason NO_ONE_AVAILABLE\n"));
}

// Toscana places a request it cannot serve with nvn; nvn's staff serve it
// with their roster; toscana's `service show` follows each step back.
TEST_F(MirctlServicesTest, APlacedRequestIsServedAtNvnAndFollowedFromToscana) {
  StartAll();
  const std::string op = "toscana/operator";
  Result created = Mirctl(op, MediatorRequest());
  ASSERT_EQ(created.code, client::kExitOk) << created.err;
  const std::string id = CreatedId(created.out);
  Result no_node = Mirctl(op, {"service", "place", id});
  EXPECT_EQ(no_node.code, client::kExitUsage) << no_node.err;
  Result placed = Mirctl(op, {"service", "place", id, "--to", "nvn"});
  ASSERT_EQ(placed.code, client::kExitOk) << placed.err;
  EXPECT_EQ(placed.out,
            absl::StrCat("service request ", id, ": PLACED with nvn, which takes its steps\n"));
  ExpectNoSealedText(placed);
  Result here = Mirctl(op, {"service", "assign", id, "--roster", "MED-1"});
  EXPECT_EQ(here.code, client::kExitFailed);
  EXPECT_THAT(here.err, HasSubstr("was placed with node nvn"));

  const std::string hub = "nvn/operator";
  ASSERT_TRUE(WaitFor([&] {
    return Mirctl(hub, {"service", "show", id}).code == client::kExitOk;
  }));
  Result at_hub = Mirctl(hub, {"service", "show", id});
  EXPECT_THAT(at_hub.out, HasSubstr("  placed here by  toscana\n"));
  EXPECT_THAT(at_hub.out, HasSubstr(kRequester));  // opened for nvn's staff
  ASSERT_EQ(Mirctl(hub, {"service", "roster", "put", "MED-N1", "--type", "mediator", "--language",
                         "pcm", "--province", "FI", "--gender", "female"})
                .code,
            client::kExitOk);
  ASSERT_EQ(Mirctl(hub, {"service", "assign", id, "--roster", "MED-N1"}).code, client::kExitOk);

  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(Mirctl(op, {"service", "show", id}).out,
                             "at nvn: ASSIGNED to MED-N1, to be scheduled");
  }));
  Result home = Mirctl(op, {"service", "show", id});
  EXPECT_THAT(home.out, HasSubstr("  placed with  nvn\n"));
  EXPECT_THAT(home.out, HasSubstr("PLACED"));
  EXPECT_THAT(home.out, HasSubstr("  node nvn  now ASSIGNED  to MED-N1"));

  // Recalled from toscana: nvn cancels it, and toscana follows.
  Result recalled = Mirctl(op, {"service", "cancel", id, "--reason", "requester-withdrew"});
  ASSERT_EQ(recalled.code, client::kExitOk) << recalled.err;
  EXPECT_EQ(recalled.out, absl::StrCat("service request ", id,
                                       ": at nvn: ASSIGNED to MED-N1, to be scheduled; "
                                       "cancellation asked of nvn\n"));
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(Mirctl(op, {"service", "show", id}).out,
                             "at nvn: CANCELLED, REQUESTER_WITHDREW");
  }));
  EXPECT_THAT(
      Mirctl(hub, {"service", "show", id}).out,
      HasSubstr("CANCELLED  by mir://toscana/node  node toscana  reason REQUESTER_WITHDREW"));
}

TEST_F(MirctlServicesTest, UnknownIdsAndPartnersAreRefused) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string nobody = NewUuid();
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"service", "show", nobody},
                                             {"service", "assign", nobody, "--roster", "MED-1"},
                                             {"service", "cancel", nobody, "--reason", "other"}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    Result r = Mirctl("toscana/operator", args);
    EXPECT_EQ(r.code, client::kExitFailed);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith(absl::StrCat("mirctl service ", args[1],
                                               ": refused by the node: service request ", nobody)));
    EXPECT_EQ(Occurrences(r.err, "\n"), 1u);
  }

  Result r = Mirctl("toscana/partner", {"service", "list"});
  EXPECT_EQ(r.code, client::kExitFailed);
  EXPECT_THAT(r.err, StartsWith("mirctl service list: refused by the node: "));
  auto client = Connect("toscana/partner");
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(MIR_STATUS(client->ListRoster(v1::ListRosterRequest())),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace mir::testing
