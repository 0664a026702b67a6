// `mirctl service ...` in-process, no node needed: its flags become the
// requests the ServiceRequests service takes, every usage mistake is refused
// in one sentence before connecting, the groups' help (with "service roster"
// nested in "service"), and what the outputs print (never a request's
// requester or notes, except `service show`).

#include <algorithm>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/command_internal.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/service_format.h"
#include "client/values.h"
#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kId[] = "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f";
constexpr char kReferral[] = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";
// Sealed parts: must never appear outside `service show`.
constexpr char kRequester[] = "Commissione Territoriale di Firenze";
constexpr char kNotes[] = "she asked for a woman mediator, afternoons only";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// "Now" is 2026-03-01 00:00 UTC; every connect is counted and refused.
struct FakeWorld {
  FakeClock clock{absl::FromUnixSeconds(1772323200)};
  int connects = 0;

  Environment Env() {
    Environment env;
    env.clock = &clock;
    env.getenv = [](const std::string&) { return std::optional<std::string>(); };
    env.read_file = [](const std::string& path) -> absl::StatusOr<std::string> {
      return absl::NotFoundError(absl::StrCat("cannot read the file ", path));
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
    env.connect_services =
        [this](const ConnectionOptions&) -> absl::StatusOr<std::unique_ptr<ServiceRequestsClient>> {
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

google::protobuf::Timestamp At(const char* rfc3339) {
  return ToTimestamp(*ParseTimeFlag(rfc3339, "t"));
}

TEST(ServiceEnumsTest, ShortNamesReadCaseInsensitively) {
  EXPECT_EQ(ShortName(v1::SERVICE_KIND_MEDIATOR), "MEDIATOR");
  EXPECT_EQ(ShortName(v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW), "IDENTIFICATION_INTERVIEW");
  EXPECT_EQ(ShortName(v1::ATTENDANCE_IN_PERSON), "IN_PERSON");
  EXPECT_EQ(ShortName(v1::VENUE_TERRITORIAL_COMMISSION), "TERRITORIAL_COMMISSION");
  EXPECT_EQ(ShortName(v1::SERVICE_REQUESTED), "REQUESTED");
  EXPECT_EQ(ShortName(v1::OUTCOME_PERSON_ABSENT), "PERSON_ABSENT");
  EXPECT_EQ(ShortName(v1::CANCEL_NO_ONE_AVAILABLE), "NO_ONE_AVAILABLE");
  EXPECT_EQ(ShortName(v1::ROSTER_CONSULTANT), "CONSULTANT");
  EXPECT_EQ(*ParseEnum<v1::ServiceKind>("identification-interview", "--kind"),
            v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW);
  EXPECT_EQ(*ParseEnum<v1::InterviewVenue>("cas", "--venue"), v1::VENUE_CAS);
  EXPECT_EQ(*ParseEnum<v1::ServiceRequestState>("scheduled", "--state"), v1::SERVICE_SCHEDULED);
}

TEST(ServiceCommandsTest, RequestFlagsBecomeTheRequest) {
  FakeWorld world;
  auto flags = Parse("service request", {"--kind",
                                         "mediator",
                                         "--language",
                                         "PCM",
                                         "--same-gender",
                                         "--gender",
                                         "female",
                                         "--attendance",
                                         "in-person",
                                         "--province",
                                         "fi",
                                         "--from",
                                         "2026-03-02T09:00:00+01:00",
                                         "--to",
                                         "2026-03-06",
                                         "--requester",
                                         kRequester,
                                         "--notes",
                                         kNotes,
                                         "--referral",
                                         kReferral,
                                         "--id",
                                         "0193E0A4-5B7C-7D2E-8F90-1A2B3C4D5E6F"});
  ASSERT_OK(flags);
  auto request = CreateServiceRequestFromFlags(*flags, world.Env());
  ASSERT_OK(request);
  EXPECT_EQ(request->request_id(), kId);
  const v1::ServiceRequest& r = request->request();
  EXPECT_EQ(r.kind(), v1::SERVICE_KIND_MEDIATOR);
  EXPECT_EQ(r.language(), "pcm");
  EXPECT_TRUE(r.same_gender_wanted());
  EXPECT_EQ(r.gender(), v1::GENDER_FEMALE);
  EXPECT_EQ(r.attendance(), v1::ATTENDANCE_IN_PERSON);
  EXPECT_EQ(r.province(), "FI");
  EXPECT_EQ(FromTimestamp(r.window_start()), FromTimestamp(At("2026-03-02T08:00:00Z")));
  EXPECT_EQ(FromTimestamp(r.window_end()), FromTimestamp(At("2026-03-06T00:00:00Z")));
  EXPECT_EQ(r.venue(), v1::INTERVIEW_VENUE_UNSPECIFIED);
  EXPECT_EQ(r.referral_id(), kReferral);
  EXPECT_EQ(r.requester(), kRequester);
  EXPECT_EQ(r.notes(), kNotes);

  auto interview = Parse("service request",
                         {"--kind", "identification-interview", "--attendance", "remote", "--venue",
                          "territorial-commission", "--from", "2026-03-02", "--to", "2026-03-20"});
  ASSERT_OK(interview);
  auto first = CreateServiceRequestFromFlags(*interview, world.Env());
  auto second = CreateServiceRequestFromFlags(*interview, world.Env());
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_TRUE(IsCanonicalUuid(first->request_id())) << first->request_id();
  EXPECT_NE(first->request_id(), second->request_id());
  EXPECT_EQ(first->request().venue(), v1::VENUE_TERRITORIAL_COMMISSION);
  EXPECT_EQ(first->request().language(), "");  // optional for an interview
  EXPECT_EQ(first->request().province(), "");
}

TEST(ServiceCommandsTest, ListAndRosterFlagsBecomeTheirRequests) {
  auto list = Parse("service list", {"--state", "requested", "--state", "DONE", "--limit", "5"});
  ASSERT_OK(list);
  auto request = ListServiceRequestsRequestFromFlags(*list);
  ASSERT_OK(request);
  EXPECT_THAT(request->states(), ElementsAre(v1::SERVICE_REQUESTED, v1::SERVICE_DONE));
  EXPECT_EQ(request->limit(), 5);

  auto put = Parse("service roster put",
                   {"med-0007", "--type", "mediator", "--language", "pcm", "--language", "ENG",
                    "--province", "fi", "--province", "PO", "--gender", "female"});
  ASSERT_OK(put);
  auto entry = PutRosterEntryRequestFromFlags(*put);
  ASSERT_OK(entry);
  EXPECT_EQ(entry->entry().code(), "MED-0007");
  EXPECT_EQ(entry->entry().kind(), v1::ROSTER_MEDIATOR);
  EXPECT_THAT(entry->entry().languages(), ElementsAre("pcm", "eng"));
  EXPECT_THAT(entry->entry().provinces(), ElementsAre("FI", "PO"));
  EXPECT_EQ(entry->entry().gender(), v1::GENDER_FEMALE);
  EXPECT_TRUE(entry->entry().available());

  auto away = Parse("service roster put", {"CON-1", "--type", "consultant", "--unavailable"});
  ASSERT_OK(away);
  auto consultant = PutRosterEntryRequestFromFlags(*away);
  ASSERT_OK(consultant);
  EXPECT_EQ(consultant->entry().kind(), v1::ROSTER_CONSULTANT);
  EXPECT_TRUE(consultant->entry().languages().empty());
  EXPECT_FALSE(consultant->entry().available());
}

// Usage mistakes: one sentence, exit 2, nothing sent, and no free text
// quoted back.
TEST(ServiceCommandsTest, UsageMistakesAreOneSentenceAndSendNothing) {
  // A valid mediator request, with the flags in `more` given instead of
  // (or besides) its own.
  auto request = [](std::vector<std::string> more) {
    const std::vector<std::pair<std::string, std::string>> base = {{"--kind", "mediator"},
                                                                   {"--language", "pcm"},
                                                                   {"--attendance", "remote"},
                                                                   {"--from", "2026-03-02"},
                                                                   {"--to", "2026-03-06"}};
    std::vector<std::string> args = {"service", "request"};
    for (const auto& [flag, value] : base) {
      if (std::find(more.begin(), more.end(), flag) != more.end()) continue;
      args.push_back(flag);
      args.push_back(value);
    }
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  FakeWorld world;
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {"unknown language", request({"--language", "xxq"}),
       "mirctl service request: --language must be an ISO 639-3 code such as ita, eng or pcm "
       "('xxq' is not one).\n"},
      {"bad province", request({"--province", "XY"}),
       "mirctl service request: --province must be an Italian province code such as FI or MI "
       "('XY' is not one).\n"},
      {"--to before --from",
       {"service", "request", "--kind", "mediator", "--language", "pcm", "--attendance", "remote",
        "--from", "2026-03-06", "--to", "2026-03-02"},
       "mirctl service request: --to must be after --from.\n"},
      {"--to in the past",
       {"service", "request", "--kind", "mediator", "--language", "pcm", "--attendance", "remote",
        "--from", "2026-02-01", "--to", "2026-02-10"},
       "mirctl service request: --to is in the past: the window has ended.\n"},
      {"bad time", request({"--from", "tomorrow"}),
       "mirctl service request: --from must be a date such as 2025-03-01 or a time such as "
       "2025-03-01T09:30:00+01:00.\n"},
      {"missing --kind",
       {"service", "request", "--language", "pcm", "--attendance", "remote", "--from", "2026-03-02",
        "--to", "2026-03-06"},
       "mirctl service request: --kind is required: MEDIATOR or IDENTIFICATION_INTERVIEW.\n"},
      {"bad --kind", request({"--kind", "interpreter"}),
       "mirctl service request: --kind must be MEDIATOR or IDENTIFICATION_INTERVIEW.\n"},
      {"mediator without a language",
       {"service", "request", "--kind", "mediator", "--attendance", "remote", "--from",
        "2026-03-02", "--to", "2026-03-06"},
       "mirctl service request: --language is required for a mediator: an ISO 639-3 code such as "
       "pcm.\n"},
      {"missing --attendance",
       {"service", "request", "--kind", "mediator", "--language", "pcm", "--from", "2026-03-02",
        "--to", "2026-03-06"},
       "mirctl service request: --attendance is required: IN_PERSON or REMOTE.\n"},
      {"in person without a province", request({"--attendance", "in-person"}),
       "mirctl service request: --province is required in person: an Italian province code such "
       "as FI.\n"},
      {"missing --from",
       {"service", "request", "--kind", "mediator", "--language", "pcm", "--attendance", "remote",
        "--to", "2026-03-06"},
       "mirctl service request: --from is required: a date such as 2025-03-01 or a time such as "
       "2025-03-01T09:30:00+01:00.\n"},
      {"same gender without one", request({"--same-gender"}),
       "mirctl service request: --same-gender needs --gender: FEMALE, MALE, TRANSGENDER, "
       "NON_BINARY_OTHER or UNKNOWN.\n"},
      {"a gender without --same-gender", request({"--gender", "female"}),
       "mirctl service request: --gender goes only with --same-gender.\n"},
      {"interview without a venue",
       {"service", "request", "--kind", "identification-interview", "--attendance", "remote",
        "--from", "2026-03-02", "--to", "2026-03-06"},
       "mirctl service request: --venue is required for an identification interview: "
       "TERRITORIAL_COMMISSION or CAS.\n"},
      {"bad referral", request({"--referral", "TOS-7Q2M"}),
       "mirctl service request: 'TOS-7Q2M' is not a referral id (they look like "
       "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44).\n"},
      {"requester too long", request({"--requester", std::string(201, 'r')}),
       "mirctl service request: --requester is 201 bytes long, more than the 200 allowed.\n"},
      {"notes too long", request({"--notes", std::string(2001, 'n')}),
       "mirctl service request: --notes is 2001 bytes long, more than the 2,000 allowed.\n"},
      {"an escape in the notes", request({"--notes", "see \x1b[31m me"}),
       "mirctl service request: --notes holds a control character (only line breaks and tabs are "
       "allowed).\n"},
      {"bad --id", request({"--id", "svc-1"}),
       "mirctl service request: 'svc-1' is not a UUID (they look like "
       "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f).\n"},
      {"list: bad state",
       {"service", "list", "--state", "closed"},
       absl::StrCat("mirctl service list: --state must be ",
                    JoinAlternatives(ShortEnumNames(v1::ServiceRequestState_descriptor())), ".\n")},
      {"list: bad limit",
       {"service", "list", "--limit", "1001"},
       "mirctl service list: --limit must be a whole number from 1 to 1000.\n"},
      {"show: no id",
       {"service", "show"},
       "mirctl service show: missing ID; see 'mirctl service "
       "show --help'.\n"},
      {"show: not an id",
       {"service", "show", "42"},
       "mirctl service show: '42' is not a service request id (they look like "
       "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f).\n"},
      {"assign: missing --roster",
       {"service", "assign", kId},
       "mirctl service assign: --roster is required: the code of the roster entry, such as "
       "MED-0007.\n"},
      {"assign: a name for a code",
       {"service", "assign", kId, "--roster", "Amina Okafor"},
       "mirctl service assign: --roster must be a roster code of 1 to 32 letters, digits and '-', "
       "such as MED-0007.\n"},
      {"schedule: missing --at",
       {"service", "schedule", kId},
       "mirctl service schedule: --at is required: a date such as 2025-03-01 or a time such as "
       "2025-03-01T09:30:00+01:00.\n"},
      {"done: missing --outcome",
       {"service", "done", kId},
       "mirctl service done: --outcome is required: HELD, PERSON_ABSENT, INTERRUPTED or OTHER.\n"},
      {"cancel: bad --reason",
       {"service", "cancel", kId, "--reason", "bored"},
       "mirctl service cancel: --reason must be NO_LONGER_NEEDED, NO_ONE_AVAILABLE, "
       "PERSON_UNREACHABLE, REQUESTER_WITHDREW or OTHER.\n"},
      {"roster put: missing --type",
       {"service", "roster", "put", "MED-1", "--language", "pcm"},
       "mirctl service roster put: --type is required: MEDIATOR or CONSULTANT.\n"},
      {"roster put: mediator without a language",
       {"service", "roster", "put", "MED-1", "--type", "mediator"},
       "mirctl service roster put: --language is required for a mediator: the ISO 639-3 codes "
       "they speak.\n"},
      {"roster put: unknown language",
       {"service", "roster", "put", "MED-1", "--type", "mediator", "--language", "xxq"},
       "mirctl service roster put: --language must be an ISO 639-3 code such as ita, eng or pcm "
       "('xxq' is not one).\n"},
      {"roster put: bad province",
       {"service", "roster", "put", "MED-1", "--type", "mediator", "--language", "pcm",
        "--province", "XY"},
       "mirctl service roster put: --province must be an Italian province code such as FI or MI "
       "('XY' is not one).\n"},
      {"roster put: code too long",
       {"service", "roster", "put", std::string(33, 'M'), "--type", "consultant"},
       "mirctl service roster put: the code must be a roster code of 1 to 32 letters, digits and "
       "'-', such as MED-0007.\n"},
      {"unknown subcommand",
       {"service", "asign", kId},
       "mirctl service: unknown command 'asign', did you mean 'assign'?\n"},
      {"unknown roster subcommand",
       {"service", "roster", "delete", "MED-1"},
       "mirctl service roster: unknown command 'delete'; run 'mirctl service roster --help' to "
       "see the commands.\n"},
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

// A valid command line gets as far as connecting, to the ServiceRequests
// service.
TEST(ServiceCommandsTest, AValidCommandLineConnects) {
  FakeWorld world;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"service", "request", "--kind", "mediator", "--language", "pcm", "--attendance",
            "in-person", "--province", "FI", "--from", "2026-03-02", "--to", "2026-03-06"},
           {"service", "list"},
           {"service", "show", kId},
           {"service", "assign", kId, "--roster", "med-0007"},
           {"service", "schedule", kId, "--at", "2026-03-03T10:00:00+01:00"},
           {"service", "done", kId, "--outcome", "held"},
           {"service", "cancel", kId, "--reason", "no-one-available"},
           {"service", "roster", "list"},
           {"service", "roster", "put", "MED-0007", "--type", "mediator", "--language", "pcm"}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    const int before = world.connects;
    Result r = Mirctl(args, world.Env());
    EXPECT_EQ(world.connects, before + 1);
    EXPECT_EQ(r.code, kExitFailed);
    const std::string name =
        args[1] == "roster" ? absl::StrCat("service roster ", args[2]) : "service " + args[1];
    EXPECT_THAT(r.err, StartsWith("mirctl " + name + ": fake world: no node"));
  }
}

TEST(ServiceCommandsTest, TheGroupsHaveTheirOwnHelp) {
  FakeWorld world;
  Result bare = Mirctl({"service"}, world.Env());
  EXPECT_EQ(bare.code, kExitUsage);
  EXPECT_THAT(bare.err, StartsWith("usage: mirctl service COMMAND"));
  for (const char* name : {"request", "list", "show", "assign", "schedule", "done", "cancel",
                           "roster list", "roster put"}) {
    EXPECT_THAT(bare.err, HasSubstr(absl::StrCat("\n  ", name, " ")));
  }
  Result help = Mirctl({"service", "--help"}, world.Env());
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_EQ(help.out, bare.err);

  Result roster = Mirctl({"service", "roster"}, world.Env());
  EXPECT_EQ(roster.code, kExitUsage);
  EXPECT_THAT(roster.err, StartsWith("usage: mirctl service roster COMMAND"));
  EXPECT_THAT(roster.err, HasSubstr("\n  list "));
  EXPECT_THAT(roster.err, HasSubstr("\n  put "));
  EXPECT_EQ(Mirctl({"help", "service", "roster"}, world.Env()).out, roster.err);

  Result put = Mirctl({"service", "roster", "put", "--help"}, world.Env());
  EXPECT_EQ(put.code, kExitOk);
  EXPECT_THAT(put.out, StartsWith("usage: mirctl service roster put CODE --type TYPE"));
  EXPECT_EQ(Mirctl({"help", "service", "roster", "put"}, world.Env()).out, put.out);
  EXPECT_THAT(Mirctl({"--help"}, world.Env()).out, HasSubstr("\n  service request "));
  EXPECT_EQ(world.connects, 0);
}

v1::ServiceRequestView View() {
  v1::ServiceRequestView v;
  v1::ServiceRequestSummary& s = *v.mutable_summary();
  s.set_request_id(kId);
  s.set_state(v1::SERVICE_SCHEDULED);
  s.set_kind(v1::SERVICE_KIND_MEDIATOR);
  s.set_language("pcm");
  s.set_attendance(v1::ATTENDANCE_IN_PERSON);
  s.set_province("FI");
  *s.mutable_window_start() = At("2026-03-02T08:00:00Z");
  *s.mutable_window_end() = At("2026-03-06T17:00:00Z");
  *s.mutable_created_at() = At("2026-03-01T10:15:00Z");
  s.set_origin_node("toscana");
  s.set_roster_code("MED-0007");
  *s.mutable_scheduled_at() = At("2026-03-03T09:00:00Z");
  v1::ServiceRequest& r = *v.mutable_request();
  r.set_kind(v1::SERVICE_KIND_MEDIATOR);
  r.set_language("pcm");
  r.set_same_gender_wanted(true);
  r.set_gender(v1::GENDER_FEMALE);
  r.set_attendance(v1::ATTENDANCE_IN_PERSON);
  r.set_province("FI");
  *r.mutable_window_start() = s.window_start();
  *r.mutable_window_end() = s.window_end();
  r.set_requester(kRequester);
  r.set_notes(absl::StrCat(kNotes, "\x1b[2J"));
  v1::ServiceEvent& requested = *v.add_events();
  requested.set_kind(v1::ServiceEvent::REQUESTED);
  requested.set_actor("mir://toscana/operator/anna");
  *requested.mutable_at() = At("2026-03-01T10:15:00Z");
  v1::ServiceEvent& assigned = *v.add_events();
  assigned.set_kind(v1::ServiceEvent::ASSIGNED);
  assigned.set_actor("mir://toscana/operator/anna");
  assigned.set_roster_code("MED-0007");
  *assigned.mutable_at() = At("2026-03-01T10:20:00Z");
  return v;
}

TEST(ServiceFormatTest, OnlyShowPrintsTheSealedParts) {
  const v1::ServiceRequestView view = View();
  EXPECT_EQ(
      FormatServiceStep(view),
      absl::StrCat("service request ", kId, ": SCHEDULED at 2026-03-03 09:00 UTC with MED-0007\n"));
  v1::ListServiceRequestsResponse list;
  *list.add_requests() = view.summary();
  const std::string table = FormatServiceSummaries(list);
  EXPECT_THAT(table, HasSubstr("SCHEDULED"));
  EXPECT_THAT(table, HasSubstr("\n1 service request\n"));
  EXPECT_EQ(FormatServiceSummaries({}), "no service requests match\n");
  const std::string json = ToJson(WithoutSealedParts(view));
  for (const std::string& out :
       {FormatServiceCreated(view), FormatServiceStep(view), table, json}) {
    EXPECT_THAT(out, Not(HasSubstr(kRequester)));
    EXPECT_THAT(out, Not(HasSubstr(kNotes)));
  }

  // Recalled from a node it was placed with: the state is still the serving
  // node's, and the step says what was asked.
  v1::ServiceRequestView recalled = view;
  recalled.mutable_summary()->set_placed_with("nvn");
  v1::ServiceEvent& asked = *recalled.add_events();
  asked.set_kind(v1::ServiceEvent::CANCEL_ASKED);
  asked.set_node("nvn");
  asked.set_cancel_reason(v1::CANCEL_REQUESTER_WITHDREW);
  EXPECT_EQ(FormatServiceStep(recalled),
            absl::StrCat("service request ", kId,
                         ": at nvn: SCHEDULED at 2026-03-03 09:00 UTC with MED-0007; cancellation "
                         "asked of nvn\n"));
  EXPECT_THAT(FormatServiceEvents(recalled),
              HasSubstr("CANCEL_ASKED  by -  node nvn  reason REQUESTER_WITHDREW\n"));

  const std::string shown = FormatServiceView(view);
  EXPECT_THAT(shown, StartsWith(absl::StrCat("Service request ", kId, "\n  state    SCHEDULED")));
  EXPECT_THAT(shown, HasSubstr(absl::StrCat("  requester    ", kRequester, "\n")));
  // A control character in the notes is shown as '?'.
  EXPECT_THAT(shown, HasSubstr(absl::StrCat("  notes        ", kNotes, "?[2J\n")));
  EXPECT_THAT(shown, HasSubstr("  same gender  wanted: FEMALE\n"));
  EXPECT_THAT(shown, HasSubstr("  window       2026-03-02 08:00 UTC to 2026-03-06 17:00 UTC\n"));
  EXPECT_THAT(shown, HasSubstr("  ASSIGNED   by mir://toscana/operator/anna  to MED-0007\n"));
}

TEST(ServiceFormatTest, TheRoster) {
  EXPECT_EQ(FormatRoster({}), "the roster is empty\n");
  v1::ListRosterResponse roster;
  v1::RosterEntry& med = *roster.add_entries();
  med.set_code("MED-0007");
  med.set_kind(v1::ROSTER_MEDIATOR);
  med.add_languages("pcm");
  med.add_languages("eng");
  med.add_provinces("FI");
  med.set_gender(v1::GENDER_FEMALE);
  med.set_available(true);
  v1::RosterEntry& con = *roster.add_entries();
  con.set_code("CON-1");
  con.set_kind(v1::ROSTER_CONSULTANT);
  EXPECT_EQ(FormatRoster(roster),
            "CODE      TYPE        LANGUAGES  PROVINCES  GENDER  AVAILABLE\n"
            "MED-0007  MEDIATOR    pcm,eng    FI         FEMALE  yes\n"
            "CON-1     CONSULTANT  -          -          -       no\n"
            "2 roster entries, 1 available\n");
  EXPECT_EQ(FormatRosterSaved(med), "roster entry MED-0007 saved: MEDIATOR, available\n");
  EXPECT_EQ(FormatRosterSaved(con), "roster entry CON-1 saved: CONSULTANT, not available\n");
}

}  // namespace
}  // namespace mir::client
