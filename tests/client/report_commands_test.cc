// `mirctl report ...` in-process, no node needed: its flags become the
// requests the Reports service takes, every usage mistake is refused in one
// sentence before connecting, the group's help, and what the outputs print
// (never a report's free text, except `report show`).

#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/command_internal.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/report_format.h"
#include "client/values.h"
#include "crypto/envelope_bytes.h"
#include "mir/v1/referrals.pb.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::mir::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kId[] = "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f";
constexpr char kReferral[] = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";
// What a reporter said: must never appear outside `report show`.
constexpr char kDescription[] = "a van picks up four women at the station every night";
constexpr char kContact[] = "+39 055 000 0000";
constexpr char kMunicipality[] = "Sesto Fiorentino";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// Files from `files`; both connects counted and refused (nothing here
// reaches a node).
struct FakeWorld {
  std::map<std::string, std::string> files;
  int connects = 0;

  Environment Env() {
    Environment env;
    env.getenv = [](const std::string&) { return std::optional<std::string>(); };
    env.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      auto it = files.find(path);
      if (it == files.end())
        return absl::NotFoundError(absl::StrCat("cannot read the file ", path));
      return it->second;
    };
    env.connect =
        [this](const ConnectionOptions&) -> absl::StatusOr<std::unique_ptr<ReferralsClient>> {
      ++connects;
      return absl::UnavailableError("fake world: no node");
    };
    env.connect_reports =
        [this](const ConnectionOptions&) -> absl::StatusOr<std::unique_ptr<ReportsClient>> {
      ++connects;
      return absl::UnavailableError("fake world: no node");
    };
    return env;
  }
};

Result Mirctl(const std::vector<std::string>& args, const Environment& env) {
  std::ostringstream out, err;
  Result r;
  r.code = RunMirctl(args, env, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

const Command& Find(const std::string& name) {
  for (const Command& c : CommandTable()) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no command " << name;
  return CommandTable().front();
}

absl::StatusOr<ParsedFlags> Parse(const std::string& command,
                                  const std::vector<std::string>& args) {
  return ParseFlags(args, Find(command).flags);
}

TEST(ReportEnumsTest, ShortNamesReadCaseInsensitively) {
  // CONTACT_CHANNEL_UNSPECIFIED shares no prefix with CHANNEL_PHONE, ...:
  // the others' prefix is the one dropped.
  EXPECT_EQ(ShortName(v1::CHANNEL_PHONE), "PHONE");
  EXPECT_EQ(ShortName(v1::REASON_MIR_REQUEST), "MIR_REQUEST");
  EXPECT_EQ(ShortName(v1::CONTACT_CHANNEL_UNSPECIFIED), "CONTACT_CHANNEL_UNSPECIFIED");
  EXPECT_EQ(ShortName(v1::REPORTER_CLIENT_FRIEND_COLLEAGUE), "CLIENT_FRIEND_COLLEAGUE");
  EXPECT_EQ(ShortName(v1::TRIAGE_NOT_PERTINENT), "NOT_PERTINENT");
  EXPECT_EQ(ShortName(v1::REPORT_ROUTED), "ROUTED");
  // Enums whose values all share a prefix keep theirs.
  EXPECT_EQ(ShortName(v1::ERASURE_BY_RETENTION), "BY_RETENTION");
  EXPECT_EQ(ShortName(v1::URGENCY_EMERGENCY_24H), "EMERGENCY_24H");

  EXPECT_EQ(*ParseEnum<v1::ContactChannel>("phone", "--channel"), v1::CHANNEL_PHONE);
  EXPECT_EQ(*ParseEnum<v1::ContactChannel>("Web-Form", "--channel"), v1::CHANNEL_WEB_FORM);
  EXPECT_EQ(*ParseEnum<v1::ContactChannel>("CHANNEL_EMAIL", "--channel"), v1::CHANNEL_EMAIL);
  EXPECT_EQ(*ParseEnum<v1::ContactReason>("report", "--reason"), v1::REASON_REPORT);
  EXPECT_EQ(*ParseEnum<v1::ReporterType>("citizen", "--reporter"), v1::REPORTER_CITIZEN);
  EXPECT_EQ(*ParseEnum<v1::Triage>("qualified", "--triage"), v1::TRIAGE_QUALIFIED);
  EXPECT_EQ(*ParseEnum<v1::Triage>("not-pertinent", "--triage"), v1::TRIAGE_NOT_PERTINENT);
  EXPECT_EQ(*ParseEnum<v1::ReportState>("received", "--state"), v1::REPORT_RECEIVED);
  EXPECT_THAT(ParseEnum<v1::ContactChannel>("unspecified", "--channel").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEnum<v1::ContactChannel>("contact_channel_unspecified", "--channel").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReportCommandsTest, RecordFlagsBecomeTheRequest) {
  FakeWorld world;
  // Saved on Windows: CR LF line breaks, read as the node keeps them.
  world.files["call.txt"] = absl::StrCat("seen twice:\r\n", kDescription, "\r\n");
  auto flags = Parse("report record", {"--channel",
                                       "phone",
                                       "--reporter",
                                       "citizen",
                                       "--reason",
                                       "report",
                                       "--province",
                                       "fi",
                                       "--municipality",
                                       kMunicipality,
                                       "--exploitation",
                                       "sexual-street",
                                       "--exploitation",
                                       "LABOUR",
                                       "--persons",
                                       "4",
                                       "--minors",
                                       "--danger",
                                       "--language",
                                       "ITA",
                                       "--description-file",
                                       "call.txt",
                                       "--contact",
                                       kContact,
                                       "--id",
                                       "0193E0A4-5B7C-7D2E-8F90-1A2B3C4D5E6F"});
  ASSERT_OK(flags);
  auto request = RecordRequestFromFlags(*flags, world.Env());
  ASSERT_OK(request);
  EXPECT_EQ(request->report_id(), kId);
  const v1::CitizenReport& r = request->report();
  EXPECT_EQ(r.channel(), v1::CHANNEL_PHONE);
  EXPECT_EQ(r.reporter_type(), v1::REPORTER_CITIZEN);
  EXPECT_EQ(r.reason(), v1::REASON_REPORT);
  EXPECT_EQ(r.province(), "FI");
  EXPECT_EQ(r.municipality(), kMunicipality);
  EXPECT_THAT(r.suspected_exploitation(),
              ElementsAre(v1::EXPLOITATION_SEXUAL_STREET, v1::EXPLOITATION_LABOUR));
  EXPECT_EQ(r.persons(), 4u);
  EXPECT_TRUE(r.minors_suspected());
  EXPECT_TRUE(r.immediate_danger());
  EXPECT_EQ(r.language(), "ita");
  EXPECT_EQ(r.description(), absl::StrCat("seen twice:\n", kDescription));  // no final newline
  EXPECT_EQ(r.contact(), kContact);
}

TEST(ReportCommandsTest, RecordMakesAFreshUuidForEachReport) {
  FakeWorld world;
  auto flags = Parse("report record", {"--channel", "email", "--reporter", "self", "--reason",
                                       "help", "--description", kDescription});
  ASSERT_OK(flags);
  auto first = RecordRequestFromFlags(*flags, world.Env());
  auto second = RecordRequestFromFlags(*flags, world.Env());
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_TRUE(IsCanonicalUuid(first->report_id())) << first->report_id();
  EXPECT_NE(first->report_id(), second->report_id());
  EXPECT_EQ(first->report().description(), kDescription);
  EXPECT_FALSE(first->report().immediate_danger());
  EXPECT_EQ(first->report().persons(), 0u);  // unknown
  EXPECT_TRUE(first->report().contact().empty());
}

TEST(ReportCommandsTest, ListAndTriageFlagsBecomeTheirRequests) {
  auto list = Parse("report list", {"--state", "received", "--state", "ROUTED", "--limit", "5"});
  ASSERT_OK(list);
  auto request = ListReportsRequestFromFlags(*list);
  ASSERT_OK(request);
  EXPECT_THAT(request->states(), ElementsAre(v1::REPORT_RECEIVED, v1::REPORT_ROUTED));
  EXPECT_EQ(request->limit(), 5);
  auto none = Parse("report list", {});
  ASSERT_OK(none);
  EXPECT_EQ(ListReportsRequestFromFlags(*none)->limit(), 100);

  auto triage = Parse("report triage", {kId, "--triage", "Qualified", "--route-to", "lombardia"});
  ASSERT_OK(triage);
  auto t = TriageRequestFromFlags(*triage);
  ASSERT_OK(t);
  EXPECT_EQ(t->report_id(), kId);
  EXPECT_EQ(t->triage(), v1::TRIAGE_QUALIFIED);
  EXPECT_EQ(t->route_to(), "lombardia");
}

// Usage mistakes: one sentence, exit 2, nothing sent, and no free text
// quoted back.
TEST(ReportCommandsTest, UsageMistakesAreOneSentenceAndSendNothing) {
  const std::vector<std::string> ok = {"--channel", "phone",    "--reporter",
                                       "citizen",   "--reason", "report"};
  auto record = [&](std::vector<std::string> more) {
    std::vector<std::string> args = {"report", "record"};
    args.insert(args.end(), ok.begin(), ok.end());
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  FakeWorld world;
  world.files["long.txt"] = std::string(4001, 'd');
  world.files["exact.txt"] = std::string(4000, 'd');  // refused below for its other flag
  world.files["latin1.txt"] = "caf\xe9";
  world.files["cr.txt"] = "overwritten\rline";
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {"unknown language", record({"--language", "xxq"}),
       "mirctl report record: --language must be an ISO 639-3 code such as ita, eng or pcm "
       "('xxq' is not one).\n"},
      {"two-letter language", record({"--language", "it"}),
       "mirctl report record: --language must be an ISO 639-3 code such as ita, eng or pcm "
       "('it' is not one).\n"},
      {"bad province", record({"--province", "XY"}),
       "mirctl report record: --province must be an Italian province code such as FI or MI "
       "('XY' is not one).\n"},
      {"description over 4000 bytes by file", record({"--description-file", "long.txt"}),
       "mirctl report record: --description-file long.txt is 4001 bytes long, more than the "
       "4,000 allowed.\n"},
      {"description over 4000 bytes inline", record({"--description", std::string(4001, 'd')}),
       "mirctl report record: --description is 4001 bytes long, more than the 4,000 allowed.\n"},
      {"description not UTF-8", record({"--description-file", "latin1.txt"}),
       "mirctl report record: --description-file latin1.txt is not valid UTF-8 text.\n"},
      {"description file missing", record({"--description-file", "missing.txt"}),
       "mirctl report record: cannot read the file missing.txt.\n"},
      {"an escape in the contact", record({"--contact", "call \x1b[31m me"}),
       "mirctl report record: --contact holds a control character (only line breaks and tabs are "
       "allowed).\n"},
      {"a lone carriage return in the description file", record({"--description-file", "cr.txt"}),
       "mirctl report record: --description-file cr.txt holds a control character (only line "
       "breaks and tabs are allowed).\n"},
      {"too many exploitation types", record(std::vector<std::string>(17, "--exploitation=labour")),
       "mirctl report record: --exploitation may be given at most 16 times.\n"},
      {"list: limit above the node's",
       {"report", "list", "--limit", "1001"},
       "mirctl report list: --limit must be a whole number from 1 to 1000.\n"},
      {"both descriptions", record({"--description-file", "exact.txt", "--description", "x"}),
       "mirctl report record: use either --description or --description-file, not both.\n"},
      {"municipality too long", record({"--municipality", std::string(101, 'm')}),
       "mirctl report record: --municipality is 101 bytes long, more than the 100 allowed.\n"},
      {"contact too long", record({"--contact", std::string(201, 'c')}),
       "mirctl report record: --contact is 201 bytes long, more than the 200 allowed.\n"},
      {"missing --channel",
       {"report", "record", "--reporter", "citizen", "--reason", "report"},
       "mirctl report record: --channel is required: PHONE, WEB_FORM, EMAIL or IN_PERSON.\n"},
      {"missing --reporter",
       {"report", "record", "--channel", "phone", "--reason", "report"},
       "mirctl report record: --reporter is required: SELF, CITIZEN, CLIENT_FRIEND_COLLEAGUE, "
       "LAW_ENFORCEMENT, SOCIAL_HEALTH_SERVICE, ANTI_TRAFFICKING_PROJECT or OTHER.\n"},
      {"missing --reason",
       {"report", "record", "--channel", "phone", "--reporter", "citizen"},
       "mirctl report record: --reason is required: HELP, INFORMATION, REPORT, CONSULTATION or "
       "MIR_REQUEST.\n"},
      {"bad --channel",
       {"report", "record", "--channel", "fax", "--reporter", "citizen", "--reason", "report"},
       "mirctl report record: --channel must be PHONE, WEB_FORM, EMAIL or IN_PERSON.\n"},
      {"bad --exploitation", record({"--exploitation", "sexual"}),
       "mirctl report record: --exploitation must be SEXUAL_STREET, SEXUAL_INDOOR, LABOUR, "
       "FORCED_BEGGING, FORCED_CRIMINALITY, FORCED_MARRIAGE, DOMESTIC_SERVITUDE, ORGAN_REMOVAL, "
       "OTHER or UNKNOWN.\n"},
      {"no persons", record({"--persons", "0"}),
       "mirctl report record: --persons must be a whole number from 1 to 1000.\n"},
      {"too many persons", record({"--persons", "1001"}),
       "mirctl report record: --persons must be a whole number from 1 to 1000.\n"},
      {"bad --id", record({"--id", "report-1"}),
       "mirctl report record: 'report-1' is not a UUID (they look like "
       "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f).\n"},
      {"a value for --danger", record({"--danger=yes"}),
       "mirctl report record: flag --danger takes no value; see 'mirctl report record --help'.\n"},
      {"list: bad state",
       {"report", "list", "--state", "closed"},
       "mirctl report list: --state must be RECEIVED, TRIAGED or ROUTED.\n"},
      {"list: bad limit",
       {"report", "list", "--limit", "0"},
       "mirctl report list: --limit must be a whole number from 1 to 1000.\n"},
      {"show: no id",
       {"report", "show"},
       "mirctl report show: missing ID; see 'mirctl report show --help'.\n"},
      {"show: not an id",
       {"report", "show", "42"},
       "mirctl report show: '42' is not a report id (they look like "
       "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f).\n"},
      {"triage: missing --triage",
       {"report", "triage", kId},
       "mirctl report triage: --triage is required: PERTINENT, QUALIFIED, NOT_PERTINENT or "
       "NUISANCE.\n"},
      {"triage: bad --triage value",
       {"report", "triage", kId, "--triage", "urgent"},
       "mirctl report triage: --triage must be PERTINENT, QUALIFIED, NOT_PERTINENT or "
       "NUISANCE.\n"},
      {"triage: route a nuisance",
       {"report", "triage", kId, "--triage", "nuisance", "--route-to", "lombardia"},
       "mirctl report triage: --route-to goes only with --triage PERTINENT or QUALIFIED: a "
       "report that is not pertinent stays here.\n"},
      {"triage: bad node",
       {"report", "triage", kId, "--triage", "pertinent", "--route-to", "Lombardia!"},
       "mirctl report triage: --route-to must be a node id such as lombardia.\n"},
      {"link: no referral",
       {"report", "link", kId},
       "mirctl report link: missing REFERRAL_ID; see 'mirctl report link --help'.\n"},
      {"link: bad referral",
       {"report", "link", kId, "TOS-7Q2M"},
       "mirctl report link: 'TOS-7Q2M' is not a referral id (they look like "
       "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44).\n"},
      {"unknown subcommand",
       {"report", "recrod"},
       "mirctl report: unknown command 'recrod', did you mean 'record'?\n"},
      {"unknown subcommand far from any",
       {"report", "delete", kId},
       "mirctl report: unknown command 'delete'; run 'mirctl report --help' to see the "
       "commands.\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result r = Mirctl(c.args, world.Env());
    EXPECT_EQ(r.code, kExitUsage);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(world.connects, 0);
  }
}

// A valid command line gets as far as connecting, to the Reports service.
TEST(ReportCommandsTest, AValidCommandLineConnects) {
  FakeWorld world;
  world.files["exact.txt"] = std::string(4000, 'd');
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"report", "record", "--channel", "phone", "--reporter", "citizen", "--reason", "report",
            "--description-file", "exact.txt", "--language", "pcm", "--province", "SU"},
           {"report", "list"},
           {"report", "show", kId, "--contact"},
           {"report", "triage", kId, "--triage", "not-pertinent"},
           {"report", "link", kId, kReferral},
           {"--node", "h:1", "report", "list", "--json"}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    const int before = world.connects;
    Result r = Mirctl(args, world.Env());
    EXPECT_EQ(world.connects, before + 1);
    EXPECT_EQ(r.code, kExitFailed);
    EXPECT_THAT(r.err, StartsWith("mirctl " + args[args[0] == "--node" ? 2 : 0] + " " +
                                  args[args[0] == "--node" ? 3 : 1] + ": fake world: no node"));
  }
}

TEST(ReportCommandsTest, TheGroupHasItsOwnHelp) {
  FakeWorld world;
  Result bare = Mirctl({"report"}, world.Env());
  EXPECT_EQ(bare.code, kExitUsage);
  EXPECT_THAT(bare.err, StartsWith("usage: mirctl report COMMAND"));
  for (const char* name : {"record", "list", "show", "triage", "link"}) {
    EXPECT_THAT(bare.err, HasSubstr(absl::StrCat("\n  ", name, " ")));
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"report", "--help"}, {"report", "-h"}, {"help", "report"}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    Result r = Mirctl(args, world.Env());
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_EQ(r.out, bare.err);
    EXPECT_EQ(r.err, "");
  }
  Result triage = Mirctl({"help", "report", "triage"}, world.Env());
  EXPECT_EQ(triage.code, kExitOk);
  EXPECT_THAT(triage.out, StartsWith("usage: mirctl report triage ID --triage T"));
  EXPECT_THAT(triage.out, HasSubstr("--triage T        the triage (required): PERTINENT, "
                                    "QUALIFIED, NOT_PERTINENT or NUISANCE\n"));
  EXPECT_EQ(Mirctl({"report", "triage", "--help"}, world.Env()).out, triage.out);
  // The column is as wide as the longest command name ("service roster list").
  EXPECT_THAT(Mirctl({"--help"}, world.Env()).out,
              ::testing::ContainsRegex("\n  report record +operators: record a citizen report"));
  EXPECT_EQ(world.connects, 0);
}

google::protobuf::Timestamp At(const char* rfc3339) {
  return ToTimestamp(*ParseTimeFlag(rfc3339, "t"));
}

v1::ReportView View() {
  v1::ReportView v;
  v1::ReportSummary& s = *v.mutable_summary();
  s.set_report_id(kId);
  s.set_state(v1::REPORT_RECEIVED);
  s.set_channel(v1::CHANNEL_PHONE);
  s.set_reporter_type(v1::REPORTER_CITIZEN);
  s.set_reason(v1::REASON_REPORT);
  s.set_province("FI");
  s.set_immediate_danger(true);
  s.set_minors_suspected(true);
  s.set_has_contact(true);
  s.set_origin_node("toscana");
  *s.mutable_recorded_at() = At("2026-12-06T01:40:00Z");
  v1::CitizenReport& r = *v.mutable_report();
  r.set_channel(v1::CHANNEL_PHONE);
  r.set_reporter_type(v1::REPORTER_CITIZEN);
  r.set_reason(v1::REASON_REPORT);
  r.set_province("FI");
  r.add_suspected_exploitation(v1::EXPLOITATION_SEXUAL_STREET);
  r.set_persons(4);
  r.set_minors_suspected(true);
  r.set_immediate_danger(true);
  r.set_language("ita");
  r.set_municipality(kMunicipality);
  r.set_description(kDescription);
  r.set_contact(kContact);
  v1::ReportEvent& e = *v.add_events();
  e.set_kind(v1::ReportEvent::RECORDED);
  e.set_actor("mir://toscana/operator/op1");
  *e.mutable_at() = At("2026-12-06T01:40:05Z");
  return v;
}

void ExpectNoFreeText(const std::string& printed) {
  EXPECT_THAT(printed, Not(HasSubstr(kDescription)));
  EXPECT_THAT(printed, Not(HasSubstr(kContact)));
  EXPECT_THAT(printed, Not(HasSubstr(kMunicipality)));
}

TEST(ReportFormatTest, RecordedPrintsTheIdAndRemindsOf112) {
  const std::string out = FormatRecorded(View());
  EXPECT_EQ(out, absl::StrCat("report ", kId,
                              " recorded: RECEIVED, awaiting triage\n"
                              "immediate danger: the reporter was to be told to call 112 now; if "
                              "they were not, call them back\n"));
  v1::ReportView calm = View();
  calm.mutable_summary()->set_immediate_danger(false);
  calm.mutable_report()->set_immediate_danger(false);
  EXPECT_EQ(FormatRecorded(calm),
            absl::StrCat("report ", kId, " recorded: RECEIVED, awaiting triage\n"));
}

TEST(ReportFormatTest, OutputsOtherThanShowNeverPrintFreeText) {
  v1::ReportView v = View();
  ExpectNoFreeText(FormatRecorded(v));
  v.mutable_summary()->set_state(v1::REPORT_ROUTED);
  v.mutable_summary()->set_triage(v1::TRIAGE_QUALIFIED);
  v.mutable_summary()->set_routed_to("lombardia");
  EXPECT_EQ(FormatTriaged(v),
            absl::StrCat("report ", kId, " triaged QUALIFIED: ROUTED to lombardia\n"));
  ExpectNoFreeText(FormatTriaged(v));
  v.mutable_summary()->set_referral_id(kReferral);
  EXPECT_EQ(FormatLinked(v), absl::StrCat("report ", kId, " linked to referral ", kReferral, "\n"));
  const v1::ReportView stripped = WithoutSealedParts(v);
  EXPECT_EQ(stripped.report().province(), "FI");
  ExpectNoFreeText(ToJson(stripped));
  ExpectNoFreeText(FormatReportEvents(v));
}

TEST(ReportFormatTest, ListIsATableWithCounts) {
  v1::ListReportsResponse list;
  *list.add_reports() = View().summary();
  v1::ReportSummary& other = *list.add_reports();
  other.set_report_id("0193e0a4-0000-7000-8000-000000000002");
  other.set_state(v1::REPORT_TRIAGED);
  other.set_triage(v1::TRIAGE_NUISANCE);
  other.set_channel(v1::CHANNEL_WEB_FORM);
  other.set_reporter_type(v1::REPORTER_OTHER);
  other.set_reason(v1::REASON_INFORMATION);
  other.set_origin_node("toscana");
  *other.mutable_recorded_at() = At("2026-12-06T01:00:00Z");
  const std::string out = FormatReportSummaries(list);
  EXPECT_THAT(out, StartsWith("ID                                    STATE     TRIAGE    "
                              "CHANNEL   REPORTER  REASON       PROVINCE  FLAGS                  "
                              "RECORDED              ORIGIN   ROUTED TO  REFERRAL\n"));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(kId,
                                          "  RECEIVED  -         PHONE     CITIZEN   REPORT       "
                                          "FI        DANGER,MINORS,CONTACT  2026-12-06 01:40 UTC  "
                                          "toscana  -          -\n")));
  EXPECT_THAT(out, HasSubstr("  TRIAGED   NUISANCE  WEB_FORM  OTHER     INFORMATION  -         -"));
  EXPECT_THAT(out, HasSubstr("\n2 reports, 1 awaiting triage, 1 in immediate danger\n"));
  EXPECT_EQ(FormatReportSummaries(v1::ListReportsResponse()), "no reports match\n");
}

TEST(ReportFormatTest, ShowPrintsTheReportAndTheContactOnlyWhenSent) {
  const std::string out = FormatReportView(View());
  EXPECT_THAT(out, StartsWith(absl::StrCat("Report ", kId,
                                           "\n  state     RECEIVED, awaiting triage\n"
                                           "  triage    -\n"
                                           "  recorded  2026-12-06 01:40 UTC\n"
                                           "  origin    toscana\n")));
  EXPECT_THAT(out, HasSubstr("  channel       PHONE\n"
                             "  reporter      CITIZEN\n"
                             "  reason        REPORT\n"
                             "  province      FI\n"
                             "  municipality  Sesto Fiorentino\n"
                             "  exploitation  SEXUAL_STREET\n"
                             "  persons       4\n"
                             "  minors        suspected\n"
                             "  danger        IMMEDIATE (the reporter was told to call 112)\n"
                             "  language      ita\n"
                             "  contact       +39 055 000 0000\n"
                             "  description   a van picks up"));
  EXPECT_THAT(out, HasSubstr("\nEvents\n  2026-12-06 01:40:05 UTC  RECORDED  by "
                             "mir://toscana/operator/op1\n"));

  v1::ReportView without = View();
  without.mutable_report()->clear_contact();
  EXPECT_THAT(FormatReportView(without),
              HasSubstr("  contact       (given; add --contact to see it, and the reading is "
                        "recorded)\n"));
  without.mutable_summary()->set_has_contact(false);
  EXPECT_THAT(FormatReportView(without), HasSubstr("  contact       (anonymous)\n"));
  // Routed here: the contact, if any, stayed where the report was taken.
  v1::ReportView arrived = without;
  arrived.clear_events();
  arrived.mutable_summary()->set_origin_node("lombardia");
  arrived.add_events()->set_kind(v1::ReportEvent::ARRIVED);
  EXPECT_THAT(FormatReportView(arrived),
              HasSubstr("  contact       (if any, kept at lombardia: a contact never leaves the "
                        "node that took the report)\n"));
}

TEST(ReportFormatTest, ShowCannotDriveTheTerminal) {
  v1::ReportView v = View();
  v.mutable_report()->set_description("line one\nline two\x1b[2J\rgone");
  const std::string out = FormatReportView(v);
  EXPECT_THAT(out, HasSubstr("  description   line one\n                line two?[2J?gone\n"));
  EXPECT_THAT(out, Not(HasSubstr("\x1b")));
}

TEST(ReportFormatTest, EventsSayWhatEachStepDid) {
  v1::ReportView v = View();
  v1::ReportEvent* triaged = v.add_events();
  triaged->set_kind(v1::ReportEvent::TRIAGED);
  triaged->set_actor("mir://toscana/operator/op1");
  triaged->set_triage(v1::TRIAGE_PERTINENT);
  *triaged->mutable_at() = At("2026-12-06T01:41:00Z");
  v1::ReportEvent* routed = v.add_events();
  routed->set_kind(v1::ReportEvent::ROUTED);
  routed->set_actor("mir://toscana/operator/op1");
  routed->set_node("lombardia");
  *routed->mutable_at() = At("2026-12-06T01:41:00Z");
  v1::ReportEvent* linked = v.add_events();
  linked->set_kind(v1::ReportEvent::LINKED);
  linked->set_actor("mir://toscana/operator/op2");
  linked->set_referral_id(kReferral);
  *linked->mutable_at() = At("2026-12-06T01:50:00Z");
  EXPECT_EQ(FormatReportEvents(v),
            absl::StrCat("  2026-12-06 01:40:05 UTC  RECORDED  by mir://toscana/operator/op1\n"
                         "  2026-12-06 01:41:00 UTC  TRIAGED   by mir://toscana/operator/op1  as "
                         "PERTINENT\n"
                         "  2026-12-06 01:41:00 UTC  ROUTED    by mir://toscana/operator/op1  to "
                         "lombardia\n"
                         "  2026-12-06 01:50:00 UTC  LINKED    by mir://toscana/operator/op2  "
                         "referral ",
                         kReferral, "\n"));
}

}  // namespace
}  // namespace mir::client
