// mirctl stats against a real node over loopback mutual TLS: the CSV parses
// (a '# title' line before each table, a blank line between them), hidden
// counts print as '*', and a partner is refused in one sentence; at nvn,
// --national sums the regions' monthly reports.

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/commands.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class MirctlStatsTest : public NetworkTest {
 protected:
  Result Mirctl(const std::string& as, std::vector<std::string> args) {
    const std::string ca = PkiPath("ca.crt");
    const std::string pki = ca.substr(0, ca.size() - std::string("/ca.crt").size());
    const std::string node = as.substr(0, as.find('/'));
    for (const std::string& a : {std::string("--node"), Address(ports_[node]), std::string("--pki"),
                                 pki, std::string("--as"), as}) {
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
};

// One table of the CSV output: its title and its rows split on commas (the
// labels here hold no comma or quote).
struct CsvTable {
  std::string title;
  std::vector<std::vector<std::string>> rows;
};

std::vector<CsvTable> ParseCsv(const std::string& text) {
  std::vector<CsvTable> tables;
  for (absl::string_view block : absl::StrSplit(text, "\n\n")) {
    CsvTable t;
    for (absl::string_view line : absl::StrSplit(block, '\n', absl::SkipEmpty())) {
      if (absl::ConsumePrefix(&line, "# ")) {
        if (t.title.empty()) t.title = std::string(line);
        continue;
      }
      t.rows.push_back(absl::StrSplit(line, ','));
    }
    tables.push_back(std::move(t));
  }
  return tables;
}

TEST_F(MirctlStatsTest, CsvParsesAndHidesSmallCounts) {
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down: the referrals stay SUBMITTED
  for (int i = 0; i < 3; ++i) SubmitReferral("lombardia");

  Result r = Mirctl("toscana/operator", {"stats", "--csv"});
  ASSERT_EQ(r.code, client::kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<CsvTable> tables = ParseCsv(r.out);
  // Five MIR tables, five contact tables (citizen reports by month, channel,
  // reporter type, reason and province), the mediator table, four person
  // tables (gender, age band, nationality, exploitation), then the time to
  // placement.
  ASSERT_EQ(tables.size(), 16u);
  EXPECT_EQ(tables[5].title, "Contacts by month and triage");
  EXPECT_EQ(tables[10].title, "Mediator interventions by language and outcome");
  EXPECT_EQ(tables[13].title, "MIR by nationality and outcome");
  const CsvTable& months = tables[0];
  EXPECT_EQ(months.title, "MIR outbound by month opened and outcome");
  ASSERT_FALSE(months.rows.empty());
  EXPECT_EQ(months.rows[0], (std::vector<std::string>{"", "closed positive", "closed negative",
                                                      "pending", "total"}));
  for (const auto& row : months.rows) EXPECT_EQ(row.size(), 5u);
  absl::TimeZone rome;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Rome", &rome));
  const std::string month = absl::FormatCivilTime(absl::ToCivilMonth(absl::Now(), rome));
  // The three pending referrals are a small count: '*', never 3.
  EXPECT_THAT(months.rows, Contains(std::vector<std::string>{month, "0", "0", "*", "*"}));
  EXPECT_THAT(r.out, Not(HasSubstr(",3")));
  EXPECT_EQ(tables.back().rows.back()[0], "placement");

  Result raw = Mirctl("toscana/operator", {"stats", "--raw", "--csv"});
  ASSERT_EQ(raw.code, client::kExitOk) << raw.err;
  EXPECT_THAT(raw.out, StartsWith("# internal, not for publication\n"));
  EXPECT_THAT(raw.out, HasSubstr(absl::StrCat(month, ",0,0,3,3\n")));

  Result text = Mirctl("toscana/operator", {"stats"});
  ASSERT_EQ(text.code, client::kExitOk) << text.err;
  EXPECT_THAT(text.out, HasSubstr("MIR statistics of node toscana"));

  Result partner = Mirctl("toscana/partner", {"stats"});
  EXPECT_EQ(partner.code, client::kExitFailed);
  EXPECT_THAT(partner.err, StartsWith("mirctl stats: refused by the node: "));

  Result bad = Mirctl("toscana/operator", {"stats", "--from", "March"});
  EXPECT_EQ(bad.code, client::kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("--from must be a date such as 2026-03-01"));
}

// At nvn, --national sums the monthly reports the regions sent; elsewhere it
// is refused in one sentence.
TEST_F(MirctlStatsTest, NationalSumsTheRegionsReports) {
  StartAll();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(SubmitReferral("lombardia"));
  for (const std::string& id : ids) ASSERT_TRUE(StateIs("lombardia", id, v1::RECEIVED));
  ASSERT_OK(NodeAt("toscana").ReportStatistics());
  absl::TimeZone rome;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Rome", &rome));
  const absl::CivilMonth month = absl::ToCivilMonth(absl::Now(), rome);
  ASSERT_TRUE(WaitFor([&] {
    auto kept = Store("nvn").StatisticsReports(absl::FromCivil(month, rome),
                                               absl::FromCivil(month + 1, rome));
    return kept.ok() && kept->size() == 1;
  }));

  Result raw = Mirctl("nvn/operator", {"stats", "--national", "--raw"});
  ASSERT_EQ(raw.code, client::kExitOk) << raw.err;
  EXPECT_THAT(raw.out, StartsWith("National MIR statistics at nvn"));
  EXPECT_THAT(raw.out, HasSubstr("(toscana "));
  EXPECT_THAT(raw.out, HasSubstr("RAW COUNTS: internal, not for publication"));
  EXPECT_THAT(raw.out, Not(HasSubstr("PLACEMENT_CONFIRMED")));  // no time to placement

  Result csv = Mirctl("nvn/operator", {"stats", "--national", "--csv"});
  ASSERT_EQ(csv.code, client::kExitOk) << csv.err;
  const std::vector<CsvTable> tables = ParseCsv(csv.out);
  ASSERT_FALSE(tables.empty());
  EXPECT_EQ(tables[0].title, "MIR opened in the network, by month and outcome");
  // The three pending referrals: hidden.
  EXPECT_THAT(tables[0].rows,
              Contains(std::vector<std::string>{absl::FormatCivilTime(month), "0", "0", "*", "*"}));

  Result regional = Mirctl("toscana/operator", {"stats", "--national"});
  EXPECT_EQ(regional.code, client::kExitFailed);
  EXPECT_THAT(regional.err,
              StartsWith("mirctl stats: refused by the node: national statistics are kept at "
                         "the national node nvn"));
}

}  // namespace
}  // namespace mir::testing
