// `mirctl report ...` against real brokers over loopback mutual TLS, with the
// test PKI's personal certificates: record -> list -> triage -> show, a
// second triage refused with its reason, a link to a referral the node holds,
// a report sent on to lombardia, unknown ids, partners refused, and a Record
// whose answer is lost sent again and recorded once. Nothing but `report
// show` prints the description, the municipality or the contact.

#include <sqlite3.h>

#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/commands.h"
#include "client/reports_client.h"
#include "crypto/envelope_bytes.h"
#include "google/protobuf/util/json_util.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

using client::ConnectionOptions;
using client::ReportsClient;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Fictional, and easy to find if it leaks.
constexpr char kDescription[] = "fictional-e2e-description: a van at the station every night";
constexpr char kMunicipality[] = "fictional-e2e-municipality";
constexpr char kContact[] = "fictional-e2e-contact 055 000";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

void ExpectNoFreeText(const Result& r) {
  for (const std::string& s : {r.out, r.err}) {
    EXPECT_THAT(s, Not(HasSubstr(kDescription)));
    EXPECT_THAT(s, Not(HasSubstr(kMunicipality)));
    EXPECT_THAT(s, Not(HasSubstr(kContact)));
  }
}

// `mirctl report record` for a fictional phone call, plus `more`.
std::vector<std::string> PhoneCall(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"report",
                                   "record",
                                   "--channel",
                                   "phone",
                                   "--reporter",
                                   "citizen",
                                   "--reason",
                                   "report",
                                   "--province",
                                   "FI",
                                   "--municipality",
                                   kMunicipality,
                                   "--exploitation",
                                   "sexual-street",
                                   "--persons",
                                   "2",
                                   "--minors",
                                   "--language",
                                   "ita",
                                   "--description",
                                   kDescription,
                                   "--contact",
                                   kContact};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The id from "report <id> recorded: ...".
std::string RecordedId(const std::string& out) {
  std::vector<std::string> words = absl::StrSplit(out, ' ');
  return words.size() > 1 ? words[1] : "";
}

// The words of the first line of `text` holding `id`.
std::vector<std::string> RowOf(const std::string& text, const std::string& id) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, id)) return absl::StrSplit(line, ' ', absl::SkipEmpty());
  }
  return {};
}

class MirctlReportsTest : public NetworkTest {
 protected:
  static std::string PkiDir() {
    const std::string ca = PkiPath("ca.crt");
    return ca.substr(0, ca.size() - std::string("/ca.crt").size());
  }
  // `mirctl ARGS --node <as's node> --pki <test pki> --as AS`, in-process.
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
  // Records a fictional call as toscana's operator; its id.
  std::string Record(std::vector<std::string> more = {}) {
    Result r = Mirctl("toscana/operator", PhoneCall(std::move(more)));
    EXPECT_EQ(r.code, client::kExitOk) << r.err;
    return RecordedId(r.out);
  }
  std::unique_ptr<ReportsClient> Connect(const std::string& as) {
    ConnectionOptions o;
    o.address = Address(ports_[as.substr(0, as.find('/'))]);
    o.certificate = PkiPath(as + ".crt");
    o.key = PkiPath(as + ".key");
    o.ca = PkiPath("ca.crt");
    auto client = ReportsClient::Connect(o);
    EXPECT_OK(client);
    return client.ok() ? std::move(*client) : nullptr;
  }
};

TEST_F(MirctlReportsTest, RecordListTriageShow) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string op = "toscana/operator";

  Result recorded = Mirctl(op, PhoneCall({"--danger"}));
  ASSERT_EQ(recorded.code, client::kExitOk) << recorded.err;
  EXPECT_EQ(recorded.err, "");
  const std::string id = RecordedId(recorded.out);
  ASSERT_TRUE(IsCanonicalUuid(id)) << recorded.out;
  EXPECT_EQ(recorded.out, absl::StrCat("report ", id,
                                       " recorded: RECEIVED, awaiting triage\n"
                                       "immediate danger: the reporter was to be told to call "
                                       "112 now; if they were not, call them back\n"));
  ExpectNoFreeText(recorded);

  // The same report under the same id: the first answer, recorded once.
  Result again = Mirctl(op, PhoneCall({"--danger", "--id", id}));
  ASSERT_EQ(again.code, client::kExitOk) << again.err;
  EXPECT_EQ(again.out, recorded.out);
  // Other content under that id: refused, and nothing changes.
  Result other = Mirctl(op, PhoneCall({"--id", id}));
  EXPECT_EQ(other.code, client::kExitFailed);
  EXPECT_THAT(other.err,
              StartsWith(absl::StrCat("mirctl report record: refused by the node: report ", id)));
  ExpectNoFreeText(other);

  Result list = Mirctl(op, {"report", "list"});
  ASSERT_EQ(list.code, client::kExitOk) << list.err;
  const std::vector<std::string> row = RowOf(list.out, id);
  ASSERT_EQ(row.size(), 14u) << list.out;
  EXPECT_EQ(absl::StrJoin(row.begin(), row.begin() + 8, " "),
            absl::StrCat(id, " RECEIVED - PHONE CITIZEN REPORT FI DANGER,MINORS,CONTACT"));
  EXPECT_EQ(absl::StrJoin(row.begin() + 11, row.end(), " "), "toscana - -");
  EXPECT_THAT(list.out, HasSubstr("\n1 report, 1 awaiting triage, 1 in immediate danger\n"));
  ExpectNoFreeText(list);
  EXPECT_EQ(Mirctl(op, {"report", "list", "--state", "triaged"}).out, "no reports match\n");
  Result json = Mirctl(op, {"report", "list", "--state", "received", "--json"});
  ASSERT_EQ(json.code, client::kExitOk) << json.err;
  v1::ListReportsResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  ASSERT_EQ(parsed.reports_size(), 1);
  EXPECT_EQ(parsed.reports(0).report_id(), id);

  Result triaged = Mirctl(op, {"report", "triage", id, "--triage", "qualified"});
  ASSERT_EQ(triaged.code, client::kExitOk) << triaged.err;
  EXPECT_EQ(triaged.out,
            absl::StrCat("report ", id, " triaged QUALIFIED: TRIAGED, kept at this node\n"));
  ExpectNoFreeText(triaged);

  // Once: a second triage is refused, saying why.
  Result twice = Mirctl(op, {"report", "triage", id, "--triage", "nuisance"});
  EXPECT_EQ(twice.code, client::kExitFailed);
  EXPECT_THAT(twice.err, StartsWith(absl::StrCat(
                             "mirctl report triage: refused by the node: report ", id, " is ")));
  EXPECT_THAT(twice.err, HasSubstr("only a report still RECEIVED is triaged.\n"));
  EXPECT_EQ(Occurrences(twice.err, "\n"), 1u);
  auto client = Connect(op);
  ASSERT_NE(client, nullptr);
  v1::TriageReportRequest request;
  request.set_report_id(id);
  request.set_triage(v1::TRIAGE_NUISANCE);
  EXPECT_THAT(MIR_STATUS(client->Triage(request)),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  Result shown = Mirctl(op, {"report", "show", id});
  ASSERT_EQ(shown.code, client::kExitOk) << shown.err;
  EXPECT_THAT(shown.out, StartsWith(absl::StrCat("Report ", id,
                                                 "\n  state     TRIAGED, kept at this node\n"
                                                 "  triage    QUALIFIED\n")));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  municipality  ", kMunicipality, "\n")));
  EXPECT_THAT(shown.out, HasSubstr("  exploitation  SEXUAL_STREET\n  persons       2\n"));
  EXPECT_THAT(shown.out, HasSubstr("  danger        IMMEDIATE"));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  description   ", kDescription, "\n")));
  EXPECT_THAT(shown.out, HasSubstr("  contact       (given; add --contact to see it"));
  EXPECT_THAT(shown.out, Not(HasSubstr(kContact)));
  EXPECT_THAT(shown.out, HasSubstr("  RECORDED  by mir://toscana/operator/"));
  EXPECT_THAT(shown.out, HasSubstr("  TRIAGED   by mir://toscana/operator/"));
  EXPECT_THAT(shown.out, HasSubstr("  as QUALIFIED\n"));

  Result with_contact = Mirctl(op, {"report", "show", id, "--contact"});
  ASSERT_EQ(with_contact.code, client::kExitOk) << with_contact.err;
  EXPECT_THAT(with_contact.out, HasSubstr(absl::StrCat("  contact       ", kContact, "\n")));
}

TEST_F(MirctlReportsTest, UnknownIdsAreNamedInOneSentence) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string op = "toscana/operator";
  const std::string nobody = NewUuid();
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"report", "show", nobody},
                                             {"report", "triage", nobody, "--triage", "pertinent"},
                                             {"report", "link", nobody, NewUuid()}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    Result r = Mirctl(op, args);
    EXPECT_EQ(r.code, client::kExitFailed);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith(absl::StrCat("mirctl report ", args[1],
                                               ": refused by the node: report ", nobody)));
    EXPECT_THAT(r.err, HasSubstr("not known"));
    EXPECT_EQ(Occurrences(r.err, "\n"), 1u);
  }
  auto client = Connect(op);
  ASSERT_NE(client, nullptr);
  v1::GetReportRequest get;
  get.set_report_id(nobody);
  EXPECT_THAT(MIR_STATUS(client->Get(get)),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REPORT));
}

TEST_F(MirctlReportsTest, APertinentReportIsLinkedToAReferralOnce) {
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down: the referral stays here, SUBMITTED
  const std::string op = "toscana/operator";
  const std::string referral = SubmitReferral("lombardia");
  const std::string id = Record();
  ASSERT_FALSE(id.empty());

  // Not triaged yet: refused.
  Result early = Mirctl(op, {"report", "link", id, referral});
  EXPECT_EQ(early.code, client::kExitFailed);
  EXPECT_THAT(early.err, StartsWith(absl::StrCat("mirctl report link: refused by the node: report ",
                                                 id, " is ")));

  ASSERT_EQ(Mirctl(op, {"report", "triage", id, "--triage", "pertinent"}).code, client::kExitOk);
  Result linked = Mirctl(op, {"report", "link", id, referral});
  ASSERT_EQ(linked.code, client::kExitOk) << linked.err;
  EXPECT_EQ(linked.out, absl::StrCat("report ", id, " linked to referral ", referral, "\n"));
  ExpectNoFreeText(linked);

  // Once.
  Result twice = Mirctl(op, {"report", "link", id, referral});
  EXPECT_EQ(twice.code, client::kExitFailed);
  EXPECT_THAT(twice.err, HasSubstr(absl::StrCat("it is linked to referral ", referral)));

  Result shown = Mirctl(op, {"report", "show", id});
  ASSERT_EQ(shown.code, client::kExitOk) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  referral  ", referral, "\n")));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  referral ", referral, "\n")));  // LINKED event
  Result list = Mirctl(op, {"report", "list"});
  EXPECT_EQ(RowOf(list.out, id).back(), referral);

  // A referral this node does not hold.
  const std::string other = Record();
  ASSERT_EQ(Mirctl(op, {"report", "triage", other, "--triage", "qualified"}).code, client::kExitOk);
  const std::string unknown = NewUuid();
  Result missing = Mirctl(op, {"report", "link", other, unknown});
  EXPECT_EQ(missing.code, client::kExitFailed);
  EXPECT_THAT(missing.err, StartsWith(absl::StrCat(
                               "mirctl report link: refused by the node: referral ", unknown)));
  auto client = Connect(op);
  ASSERT_NE(client, nullptr);
  v1::LinkReportRequest link;
  link.set_report_id(other);
  link.set_referral_id(unknown);
  EXPECT_THAT(MIR_STATUS(client->Link(link)),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
}

TEST_F(MirctlReportsTest, ARoutedReportIsShownAtLombardiaWithoutTheContact) {
  StartAll();
  const std::string id = Record();
  ASSERT_FALSE(id.empty());
  Result routed = Mirctl("toscana/operator", {"report", "triage", id, "--triage", "pertinent",
                                              "--route-to", "lombardia"});
  ASSERT_EQ(routed.code, client::kExitOk) << routed.err;
  EXPECT_EQ(routed.out, absl::StrCat("report ", id, " triaged PERTINENT: ROUTED to lombardia\n"));

  ASSERT_TRUE(WaitFor([&] {
    return !RowOf(Mirctl("lombardia/operator", {"report", "list"}).out, id).empty();
  }));
  Result shown = Mirctl("lombardia/operator", {"report", "show", id, "--contact"});
  ASSERT_EQ(shown.code, client::kExitOk) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("  state     RECEIVED, awaiting triage\n"));
  EXPECT_THAT(shown.out, HasSubstr("  origin    toscana\n"));
  EXPECT_THAT(shown.out, HasSubstr(absl::StrCat("  description   ", kDescription, "\n")));
  EXPECT_THAT(shown.out, HasSubstr("  contact       (if any, kept at toscana"));
  EXPECT_THAT(shown.out, Not(HasSubstr(kContact)));
  EXPECT_THAT(shown.out, HasSubstr("  as PERTINENT  from toscana\n"));
}

TEST_F(MirctlReportsTest, PartnersAreRefused) {
  ASSERT_TRUE(StartNode("toscana"));
  Result r = Mirctl("toscana/partner", {"report", "list"});
  EXPECT_EQ(r.code, client::kExitFailed);
  EXPECT_THAT(r.err, StartsWith("mirctl report list: refused by the node: "));
  auto client = Connect("toscana/partner");
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(MIR_STATUS(client->List(v1::ListReportsRequest())),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

// Holds the node's SQLite write lock until released.
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

TEST_F(MirctlReportsTest, ARecordWhoseAnswerIsLostIsSentAgainAndRecordedOnce) {
  ASSERT_TRUE(StartNode("toscana"));
  // toscana cannot commit until mirctl gives up waiting for its first answer
  // (a third of --timeout); it commits once mirctl says it sends again.
  WriteLock stall(options_["toscana"].database_path);
  ASSERT_TRUE(stall.held());
  std::vector<std::string> resends;
  Result recorded =
      Mirctl("toscana/operator", PhoneCall({"--timeout", "6s"}), [&](client::Environment& env) {
        env.connect_reports = [&](const ConnectionOptions& o) {
          ConnectionOptions options = o;
          options.on_resend = [&, tell = o.on_resend](const std::string& s) {
            resends.push_back(s);
            stall.Release();
            if (tell) tell(s);
          };
          return ReportsClient::Connect(options);
        };
      });
  stall.Release();
  ASSERT_EQ(recorded.code, client::kExitOk) << recorded.err;
  const std::string id = RecordedId(recorded.out);
  ASSERT_GE(resends.size(), 1u);
  EXPECT_THAT(recorded.err,
              StartsWith(absl::StrCat("mirctl report record: no answer about report ", id,
                                      ": sending the same report again (2 of 3)\n")));
  ExpectNoFreeText(recorded);

  Result list = Mirctl("toscana/operator", {"report", "list"});
  EXPECT_THAT(list.out, HasSubstr("\n1 report, 1 awaiting triage\n"));
  Result shown = Mirctl("toscana/operator", {"report", "show", id});
  EXPECT_EQ(Occurrences(shown.out, "  RECORDED  by "), 1u) << shown.out;
}

}  // namespace
}  // namespace mir::testing
