// The MIR statistics of a node (broker/statistics.h, Referrals.GetStatistics):
// tables built from facts and suppressed without gRPC, then a node with
// referrals made through the node core, asked over loopback mutual TLS.

#include "broker/statistics.h"

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker/authorization.h"
#include "broker/national_statistics.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "grpcpp/client_context.h"
#include "stats/suppression.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using broker::BuildStatistics;
using broker::BuildStatisticsTables;
using broker::StatisticsPeriod;
using broker::StatisticsPeriodOf;

absl::TimeZone Rome() {
  auto zone = broker::StatisticsTimeZone();
  EXPECT_OK(zone);
  return zone.ok() ? *zone : absl::UTCTimeZone();
}

absl::Time RomeTime(int y, int m, int d, int hh = 12) {
  return absl::FromCivil(absl::CivilHour(y, m, d, hh), Rome());
}

storage::ReferralFact Fact(const std::string& origin, const std::string& destination,
                           absl::Time created, v1::ReferralState state = v1::SUBMITTED) {
  storage::ReferralFact f;
  f.origin_node = origin;
  f.destination_node = destination;
  f.urgency = v1::URGENCY_ORDINARY;
  f.state = state;
  f.created_at = created;
  return f;
}

const v1::StatisticsTable* Named(const v1::Statistics& s, const std::string& name) {
  for (const v1::StatisticsTable& t : s.tables()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

// The cell at (row label, column label) as published: a value or "*".
std::string At(const v1::StatisticsTable& t, const std::string& row, const std::string& col) {
  for (const v1::StatisticsRow& r : t.rows()) {
    if (r.label() != row) continue;
    for (int c = 0; c < t.column_labels_size(); ++c) {
      if (t.column_labels(c) != col) continue;
      const v1::StatisticsCell& cell = r.cells(c);
      return cell.hidden() ? "*" : absl::StrCat(cell.value());
    }
  }
  return "missing";
}

// Every entry of `t`'s grid (cells then margins), row by row.
std::vector<const v1::StatisticsCell*> Grid(const v1::StatisticsTable& t) {
  std::vector<const v1::StatisticsCell*> grid;
  for (const v1::StatisticsRow& r : t.rows()) {
    for (const v1::StatisticsCell& c : r.cells()) grid.push_back(&c);
    grid.push_back(&r.total());
  }
  for (const v1::StatisticsCell& c : t.column_totals()) grid.push_back(&c);
  grid.push_back(&t.grand_total());
  return grid;
}

// The published pattern of `shown` laid over the true counts of `raw` (the
// same table unsuppressed): what a reader knows, and what it may not.
stats::SuppressedTable Pattern(const v1::StatisticsTable& raw, const v1::StatisticsTable& shown) {
  std::vector<std::string> rows;
  for (const v1::StatisticsRow& r : raw.rows()) rows.push_back(r.label());
  auto table =
      stats::CountTable::Create(rows, {raw.column_labels().begin(), raw.column_labels().end()});
  EXPECT_OK(table);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < table->cols(); ++c) {
      EXPECT_OK(table->Set(r, c, raw.rows(static_cast<int>(r)).cells(static_cast<int>(c)).value()));
    }
  }
  stats::SuppressedTable pattern(*table, stats::kMinPublishedCount);
  const std::vector<const v1::StatisticsCell*> grid = Grid(shown);
  for (size_t i = 0; i < grid.size(); ++i) {
    if (!grid[i]->hidden()) continue;
    EXPECT_EQ(grid[i]->value(), 0) << "a hidden entry must carry no value";
    EXPECT_OK(pattern.Hide({i / pattern.grid_cols(), i % pattern.grid_cols()},
                           stats::Suppression::kPrimary));
  }
  return pattern;
}

// ---- without gRPC ----

TEST(StatisticsTablesTest, CountsByMonthOutcomeDirectionAndHour) {
  const StatisticsPeriod period{RomeTime(2026, 1, 1, 0), RomeTime(2026, 4, 1, 0)};
  const absl::Time now = RomeTime(2026, 6, 1);
  std::vector<storage::ReferralFact> facts;
  // January, outbound: 2 pending, 1 confirmed, 1 rejected, 1 withdrawn.
  facts.push_back(Fact("toscana", "lombardia", RomeTime(2026, 1, 5)));
  facts.push_back(Fact("toscana", "lombardia", RomeTime(2026, 1, 6)));
  auto confirmed = Fact("toscana", "lombardia", RomeTime(2026, 1, 7), v1::PLACEMENT_CONFIRMED);
  confirmed.confirmed_at = RomeTime(2026, 1, 9);
  facts.push_back(confirmed);
  auto rejected = Fact("toscana", "nvn", RomeTime(2026, 1, 8), v1::REJECTED);
  rejected.closed_at = RomeTime(2026, 1, 10);
  rejected.rejection_reason = v1::REJECTION_NEEDS_NOT_MET;
  facts.push_back(rejected);
  auto withdrawn = Fact("toscana", "lombardia", RomeTime(2026, 1, 9), v1::WITHDRAWN);
  withdrawn.closed_at = RomeTime(2026, 1, 11);
  facts.push_back(withdrawn);
  // March, inbound: one emergency at 23:30 Rome (22:30 UTC).
  auto emergency = Fact("lombardia", "toscana", RomeTime(2026, 3, 2, 23) + absl::Minutes(30));
  emergency.urgency = v1::URGENCY_EMERGENCY_24H;
  facts.push_back(emergency);
  // Closed after the period ends: still pending in it.
  auto late = Fact("lombardia", "toscana", RomeTime(2026, 3, 30), v1::CLOSED_NEGATIVE);
  late.closed_at = RomeTime(2026, 4, 2);
  facts.push_back(late);

  auto s = BuildStatistics(facts, "toscana", period, now, Rome(), /*suppressed=*/false);
  ASSERT_OK(s);
  EXPECT_FALSE(s->suppressed());
  ASSERT_EQ(s->tables_size(), 11);  // 5 MIR tables, 5 contact tables, the mediator table
  const v1::StatisticsTable& out = *Named(*s, "mir_by_month_outbound");
  ASSERT_EQ(out.rows_size(), 3);
  EXPECT_EQ(out.rows(0).label(), "2026-01");
  EXPECT_EQ(out.rows(2).label(), "2026-03");
  EXPECT_EQ(At(out, "2026-01", "pending"), "2");
  EXPECT_EQ(At(out, "2026-01", "closed positive"), "1");
  EXPECT_EQ(At(out, "2026-01", "closed negative"), "2");
  EXPECT_EQ(out.rows(0).total().value(), 5);  // opened in January
  EXPECT_EQ(out.grand_total().value(), 5);
  const v1::StatisticsTable& in = *Named(*s, "mir_by_month_inbound");
  EXPECT_EQ(At(in, "2026-03", "pending"), "2");
  EXPECT_EQ(in.grand_total().value(), 2);

  const v1::StatisticsTable& matrix = *Named(*s, "origin_destination");
  EXPECT_EQ(At(matrix, "toscana", "lombardia"), "4");
  EXPECT_EQ(At(matrix, "toscana", "nvn"), "1");
  EXPECT_EQ(At(matrix, "lombardia", "toscana"), "2");
  EXPECT_EQ(At(matrix, "lombardia", "lombardia"), "0");

  const v1::StatisticsTable& reasons = *Named(*s, "rejection_reasons");
  EXPECT_EQ(At(reasons, "REJECTION_NEEDS_NOT_MET", "count"), "1");
  EXPECT_EQ(At(reasons, "REJECTION_NO_PLACES", "count"), "0");
  EXPECT_EQ(reasons.grand_total().value(), 1);

  const v1::StatisticsTable& hours = *Named(*s, "emergencies_by_hour");
  ASSERT_EQ(hours.rows_size(), 24);
  EXPECT_EQ(At(hours, "23", "count"), "1");
  EXPECT_EQ(hours.grand_total().value(), 1);

  EXPECT_TRUE(s->time_to_placement().published());
  EXPECT_EQ(s->time_to_placement().n(), 1);
  EXPECT_DOUBLE_EQ(s->time_to_placement().median_hours(), 48);
}

// A small cell is hidden, with enough others that the published entries
// cannot give it back; hidden entries carry no value.
TEST(StatisticsTablesTest, SuppressedCellsCannotBeRecovered) {
  const StatisticsPeriod period{RomeTime(2026, 1, 1, 0), RomeTime(2026, 3, 1, 0)};
  std::vector<storage::ReferralFact> facts;
  for (int i = 0; i < 30; ++i) facts.push_back(Fact("toscana", "lombardia", RomeTime(2026, 1, 3)));
  for (int i = 0; i < 20; ++i) facts.push_back(Fact("toscana", "lombardia", RomeTime(2026, 2, 3)));
  for (int i = 0; i < 3; ++i) {
    auto f = Fact("toscana", "lombardia", RomeTime(2026, 1, 4), v1::WITHDRAWN);
    f.closed_at = RomeTime(2026, 1, 5);
    facts.push_back(f);
  }
  for (int i = 0; i < 14; ++i) {
    auto f = Fact("toscana", "lombardia", RomeTime(2026, 2, 4), v1::WITHDRAWN);
    f.closed_at = RomeTime(2026, 2, 5);
    facts.push_back(f);
  }
  const absl::Time now = RomeTime(2026, 5, 1);
  auto raw = BuildStatistics(facts, "toscana", period, now, Rome(), false);
  auto shown = BuildStatistics(facts, "toscana", period, now, Rome(), true);
  ASSERT_OK(raw);
  ASSERT_OK(shown);
  EXPECT_TRUE(shown->suppressed());
  EXPECT_EQ(shown->k(), 11);
  const v1::StatisticsTable& out = *Named(*shown, "mir_by_month_outbound");
  EXPECT_EQ(At(out, "2026-01", "closed negative"), "*");
  EXPECT_EQ(At(out, "2026-01", "pending"), "*");  // its complement
  EXPECT_EQ(At(out, "2026-02", "closed negative"), "*");
  EXPECT_EQ(At(out, "2026-02", "pending"), "*");
  EXPECT_EQ(At(out, "2026-01", "closed positive"), "0");  // zeros are published
  EXPECT_THAT(out.csv(), ::testing::HasSubstr("2026-01,0,*,*,33\n"));
  for (int i = 0; i < shown->tables_size(); ++i) {
    SCOPED_TRACE(shown->tables(i).name());
    const stats::SuppressedTable pattern = Pattern(raw->tables(i), shown->tables(i));
    EXPECT_TRUE(stats::AuditRecoverable(pattern).empty());
    for (const v1::StatisticsCell* cell : Grid(raw->tables(i))) {
      EXPECT_FALSE(cell->hidden());
    }
  }
}

storage::ReportRecord Contact(const std::string& origin, absl::Time at, v1::ContactChannel channel,
                              v1::Triage triage) {
  storage::ReportRecord r;
  r.report_id = NewUuid();
  r.origin_node = origin;
  r.recorded_at = at;
  r.updated_at = at;
  r.state = triage == v1::TRIAGE_UNSPECIFIED ? v1::REPORT_RECEIVED : v1::REPORT_TRIAGED;
  r.triage = triage;
  r.facts.set_channel(channel);
  r.facts.set_reporter_type(v1::REPORTER_CITIZEN);
  r.facts.set_reason(v1::REASON_REPORT);
  return r;
}

// Contacts the node took, by channel and triage: a cell of 3 web-form
// nuisances is hidden with its complement; reports sent here by another
// node are not counted again.
TEST(StatisticsTablesTest, ContactsAreCountedWhereTakenAndSuppressedLikeMir) {
  const StatisticsPeriod period{RomeTime(2026, 1, 1, 0), RomeTime(2026, 2, 1, 0)};
  std::vector<storage::ReportRecord> contacts;
  for (int i = 0; i < 40; ++i) {
    contacts.push_back(
        Contact("toscana", RomeTime(2026, 1, 2), v1::CHANNEL_PHONE, v1::TRIAGE_PERTINENT));
  }
  for (int i = 0; i < 12; ++i) {
    contacts.push_back(
        Contact("toscana", RomeTime(2026, 1, 3), v1::CHANNEL_PHONE, v1::TRIAGE_NUISANCE));
  }
  for (int i = 0; i < 3; ++i) {
    contacts.push_back(
        Contact("toscana", RomeTime(2026, 1, 4), v1::CHANNEL_WEB_FORM, v1::TRIAGE_NUISANCE));
    contacts.back().facts.set_province("PO");
  }
  for (int i = 0; i < 20; ++i) {
    contacts.push_back(
        Contact("toscana", RomeTime(2026, 1, 5), v1::CHANNEL_WEB_FORM, v1::TRIAGE_PERTINENT));
  }
  for (int i = 0; i < 5; ++i) {  // routed here: counted at lombardia
    contacts.push_back(
        Contact("lombardia", RomeTime(2026, 1, 5), v1::CHANNEL_PHONE, v1::TRIAGE_UNSPECIFIED));
  }
  const absl::Time now = RomeTime(2026, 3, 1);
  auto raw = BuildStatistics({}, "toscana", period, now, Rome(), false, contacts);
  auto shown = BuildStatistics({}, "toscana", period, now, Rome(), true, contacts);
  ASSERT_OK(raw);
  ASSERT_OK(shown);
  const v1::StatisticsTable& by_channel_raw = *Named(*raw, "contacts_by_channel");
  EXPECT_EQ(At(by_channel_raw, "phone", "pertinent"), "40");
  EXPECT_EQ(At(by_channel_raw, "phone", "nuisance"), "12");
  EXPECT_EQ(At(by_channel_raw, "phone", "not triaged"), "0");
  EXPECT_EQ(At(by_channel_raw, "web form", "nuisance"), "3");
  EXPECT_EQ(by_channel_raw.grand_total().value(), 75);
  const v1::StatisticsTable& by_channel = *Named(*shown, "contacts_by_channel");
  EXPECT_EQ(At(by_channel, "web form", "nuisance"), "*");
  EXPECT_EQ(At(by_channel, "phone", "not triaged"), "0");  // zeros are published
  ASSERT_NE(Named(*shown, "contacts_by_month"), nullptr);
  ASSERT_NE(Named(*shown, "contacts_by_reporter_type"), nullptr);
  ASSERT_NE(Named(*shown, "contacts_by_reason"), nullptr);
  const v1::StatisticsTable& by_province_raw = *Named(*raw, "contacts_by_province");
  EXPECT_EQ(At(by_province_raw, "PO", "nuisance"), "3");
  EXPECT_EQ(At(by_province_raw, "not given", "pertinent"), "60");
  EXPECT_EQ(At(*Named(*shown, "contacts_by_province"), "PO", "nuisance"), "*");
  for (int i = 0; i < shown->tables_size(); ++i) {
    SCOPED_TRACE(shown->tables(i).name());
    EXPECT_TRUE(stats::AuditRecoverable(Pattern(raw->tables(i), shown->tables(i))).empty());
  }
}

TEST(StatisticsTablesTest, TimeToPlacementNeedsElevenWhenSuppressed) {
  const StatisticsPeriod period{RomeTime(2026, 1, 1, 0), RomeTime(2026, 2, 1, 0)};
  const absl::Time now = RomeTime(2026, 5, 1);
  std::vector<storage::ReferralFact> facts;
  auto confirmed_after = [&](int hours) {
    auto f = Fact("toscana", "lombardia", RomeTime(2026, 1, 2), v1::PLACEMENT_CONFIRMED);
    f.confirmed_at = f.created_at + absl::Hours(hours);
    facts.push_back(f);
  };
  for (int h = 1; h <= 10; ++h) confirmed_after(h);
  auto ten = BuildStatistics(facts, "toscana", period, now, Rome(), true);
  ASSERT_OK(ten);
  EXPECT_FALSE(ten->time_to_placement().published());
  EXPECT_TRUE(ten->time_to_placement().n_hidden());
  EXPECT_EQ(ten->time_to_placement().n(), 0);
  EXPECT_EQ(ten->time_to_placement().median_hours(), 0);
  auto ten_raw = BuildStatistics(facts, "toscana", period, now, Rome(), false);
  ASSERT_OK(ten_raw);
  EXPECT_TRUE(ten_raw->time_to_placement().published());
  EXPECT_EQ(ten_raw->time_to_placement().n(), 10);
  EXPECT_DOUBLE_EQ(ten_raw->time_to_placement().median_hours(), 5);  // nearest rank
  EXPECT_DOUBLE_EQ(ten_raw->time_to_placement().p90_hours(), 9);

  confirmed_after(100);
  auto eleven = BuildStatistics(facts, "toscana", period, now, Rome(), true);
  ASSERT_OK(eleven);
  EXPECT_TRUE(eleven->time_to_placement().published());
  EXPECT_FALSE(eleven->time_to_placement().n_hidden());
  EXPECT_EQ(eleven->time_to_placement().n(), 11);
  EXPECT_DOUBLE_EQ(eleven->time_to_placement().median_hours(), 6);
  EXPECT_DOUBLE_EQ(eleven->time_to_placement().p90_hours(), 10);
}

TEST(StatisticsTablesTest, APeriodWithNothingGivesEmptyTables) {
  const StatisticsPeriod period{RomeTime(2025, 1, 1, 0), RomeTime(2026, 1, 1, 0)};
  auto s = BuildStatistics({}, "toscana", period, RomeTime(2026, 5, 1), Rome(), true);
  ASSERT_OK(s);
  ASSERT_EQ(s->tables_size(), 11);
  EXPECT_EQ(Named(*s, "mir_by_month_outbound")->rows_size(), 12);
  EXPECT_EQ(Named(*s, "mediator_interventions_by_language")->rows_size(), 0);
  EXPECT_EQ(Named(*s, "contacts_by_month")->rows_size(), 12);
  EXPECT_EQ(Named(*s, "origin_destination")->rows_size(), 0);
  for (const v1::StatisticsTable& t : s->tables()) {
    SCOPED_TRACE(t.name());
    for (const v1::StatisticsCell* cell : Grid(t)) {
      EXPECT_FALSE(cell->hidden());
      EXPECT_EQ(cell->value(), 0);
    }
  }
  EXPECT_FALSE(s->time_to_placement().published());
  EXPECT_FALSE(s->time_to_placement().n_hidden());
}

TEST(StatisticsPeriodTest, DefaultsAndRefusals) {
  const absl::Time now = RomeTime(2026, 12, 5);
  auto year = StatisticsPeriodOf(v1::StatisticsRequest(), now, Rome());
  ASSERT_OK(year);
  EXPECT_EQ(year->from, RomeTime(2026, 1, 1, 0));
  EXPECT_EQ(year->to, RomeTime(2027, 1, 1, 0));

  v1::StatisticsRequest only_to;
  *only_to.mutable_to() = ToProtoTime(RomeTime(2025, 7, 1, 0));
  auto first_half = StatisticsPeriodOf(only_to, now, Rome());
  ASSERT_OK(first_half);
  EXPECT_EQ(first_half->from, RomeTime(2025, 1, 1, 0));

  struct Case {
    const char* name;
    absl::Time from;
    absl::Time to;
  } cases[] = {
      {"from after to", RomeTime(2026, 3, 1), RomeTime(2026, 2, 1)},
      {"empty", RomeTime(2026, 3, 1), RomeTime(2026, 3, 1)},
      {"more than 120 months", RomeTime(2010, 1, 1), RomeTime(2020, 2, 1)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::StatisticsRequest request;
    *request.mutable_from() = ToProtoTime(c.from);
    *request.mutable_to() = ToProtoTime(c.to);
    EXPECT_THAT(StatisticsPeriodOf(request, now, Rome()).status(),
                StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  }
}

TEST(StatisticsAuthorizationTest, OwnOperatorsOnly) {
  const broker::Authorization authz("toscana", "nvn", {"nvn"});
  EXPECT_OK(authz.Check(Identity{"toscana", Role::kOperator, "anna"}, broker::Action::kStatistics));
  EXPECT_THAT(
      authz.Check(Identity{"toscana", Role::kPartner, "shelter1"}, broker::Action::kStatistics),
      StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  EXPECT_THAT(
      authz.Check(Identity{"lombardia", Role::kOperator, "carla"}, broker::Action::kStatistics),
      StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  EXPECT_THAT(authz.Check(Identity{"toscana", Role::kNode, ""}, broker::Action::kStatistics),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  EXPECT_STREQ(broker::ActionName(broker::Action::kStatistics), "GetStatistics");
}

// ---- a node, over gRPC ----

class StatisticsTest : public NetworkTest {
 protected:
  absl::StatusOr<v1::Statistics> Ask(StaffClient& who, bool suppressed) {
    v1::StatisticsRequest request;
    request.set_suppressed(suppressed);
    grpc::ClientContext context;
    v1::Statistics statistics;
    grpc::Status rpc = who.stub().GetStatistics(&context, request, &statistics);
    if (!rpc.ok()) return FromGrpcStatus(rpc);
    return statistics;
  }
};

TEST_F(StatisticsTest, OperatorsGetWhatWasMadeSuppressedOrRaw) {
  StartAll();
  // At toscana: 12 ordinary and 2 emergency referrals to lombardia; 3 of
  // them withdrawn, 1 rejected there, 1 placed.
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(SubmitReferral("lombardia"));
  for (int i = 0; i < 2; ++i) ids.push_back(SubmitReferral("lombardia", v1::URGENCY_EMERGENCY_24H));
  for (const std::string& id : ids) ASSERT_TRUE(StateIs("lombardia", id, v1::RECEIVED));
  for (int i = 0; i < 3; ++i) Transition("toscana/operator", ids[i], v1::WITHDRAWN, "lombardia");
  const std::string& rejected = ids[3];
  Transition("lombardia/operator", rejected, v1::UNDER_EVALUATION, "toscana");
  Transition("lombardia/operator", rejected, v1::REJECTED, "toscana");
  const std::string& placed = ids[4];
  Transition("lombardia/operator", placed, v1::UNDER_EVALUATION, "toscana");
  ASSERT_OK(Store("lombardia").Transact([&](storage::Txn& txn) {
    return txn.GrantPartnerAccess(placed, "mir://lombardia/partner/shelter1");
  }));
  Transition("lombardia/partner", placed, v1::PLACEMENT_PROPOSED, "toscana");
  ASSERT_TRUE(StateIs("toscana", placed, v1::PLACEMENT_PROPOSED));
  Transition("toscana/operator", placed, v1::PLACEMENT_ACCEPTED, "lombardia");
  ASSERT_TRUE(StateIs("lombardia", placed, v1::PLACEMENT_ACCEPTED));
  Transition("lombardia/operator", placed, v1::TRANSFER_SCHEDULED, "toscana");
  Transition("lombardia/partner", placed, v1::PLACEMENT_CONFIRMED, "toscana");
  ASSERT_TRUE(StateIs("toscana", rejected, v1::REJECTED));
  ASSERT_TRUE(StateIs("toscana", placed, v1::PLACEMENT_CONFIRMED));

  StaffClient anna = Staff("toscana/operator");
  auto raw = Ask(anna, /*suppressed=*/false);
  ASSERT_OK(raw);
  EXPECT_EQ(raw->node_id(), "toscana");
  EXPECT_FALSE(raw->suppressed());
  const std::string month = absl::FormatCivilTime(absl::ToCivilMonth(absl::Now(), Rome()));
  const v1::StatisticsTable& out = *Named(*raw, "mir_by_month_outbound");
  EXPECT_EQ(At(out, month, "closed positive"), "1");
  EXPECT_EQ(At(out, month, "closed negative"), "4");
  EXPECT_EQ(At(out, month, "pending"), "9");
  EXPECT_EQ(out.grand_total().value(), 14);
  EXPECT_EQ(Named(*raw, "mir_by_month_inbound")->grand_total().value(), 0);
  EXPECT_EQ(At(*Named(*raw, "origin_destination"), "toscana", "lombardia"), "14");
  EXPECT_EQ(At(*Named(*raw, "rejection_reasons"), "REJECTION_NO_PLACES", "count"), "1");
  EXPECT_EQ(Named(*raw, "rejection_reasons")->grand_total().value(), 1);
  EXPECT_EQ(Named(*raw, "emergencies_by_hour")->grand_total().value(), 2);
  EXPECT_TRUE(raw->time_to_placement().published());
  EXPECT_EQ(raw->time_to_placement().n(), 1);

  // Suppressed (the default): the 4, the 9 and the 1 are hidden, and the
  // published table does not give them back.
  grpc::ClientContext context;
  v1::Statistics shown;
  ASSERT_TRUE(anna.stub().GetStatistics(&context, v1::StatisticsRequest(), &shown).ok());
  EXPECT_TRUE(shown.suppressed());
  const v1::StatisticsTable& hidden = *Named(shown, "mir_by_month_outbound");
  EXPECT_EQ(At(hidden, month, "closed negative"), "*");
  EXPECT_EQ(At(hidden, month, "pending"), "*");
  EXPECT_EQ(At(hidden, month, "closed positive"), "*");
  EXPECT_EQ(At(*Named(shown, "origin_destination"), "toscana", "lombardia"), "14");
  EXPECT_FALSE(shown.time_to_placement().published());
  EXPECT_TRUE(shown.time_to_placement().n_hidden());
  ASSERT_EQ(shown.tables_size(), raw->tables_size());
  for (int i = 0; i < shown.tables_size(); ++i) {
    SCOPED_TRACE(shown.tables(i).name());
    EXPECT_TRUE(stats::AuditRecoverable(Pattern(raw->tables(i), shown.tables(i))).empty());
  }

  // A partner may not see the node's statistics.
  StaffClient partner = Staff("toscana/partner");
  EXPECT_THAT(Ask(partner, true).status(),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

TEST_F(StatisticsTest, APeriodWithNothingIsEmptyNotAnError) {
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna = Staff("toscana/operator");
  v1::StatisticsRequest request;
  *request.mutable_from() = ToProtoTime(RomeTime(2020, 1, 1, 0));
  *request.mutable_to() = ToProtoTime(RomeTime(2020, 3, 1, 0));
  grpc::ClientContext context;
  v1::Statistics s;
  ASSERT_TRUE(anna.stub().GetStatistics(&context, request, &s).ok());
  EXPECT_EQ(Named(s, "mir_by_month_outbound")->rows_size(), 2);
  EXPECT_EQ(Named(s, "mir_by_month_outbound")->grand_total().value(), 0);
  EXPECT_EQ(Named(s, "origin_destination")->rows_size(), 0);
}

// ---- national statistics (PROTOCOL.md §16) ----

using broker::BuildNationalStatistics;
using broker::BuildStatisticsReport;
using broker::CheckStatisticsReport;

StatisticsPeriod MonthOf(int y, int m) {
  return {absl::FromCivil(absl::CivilMonth(y, m), Rome()),
          absl::FromCivil(absl::CivilMonth(y, m) + 1, Rome())};
}

const v1::CountTableData* Data(const v1::StatisticsReport& r, const std::string& name) {
  for (const v1::CountTableData& t : r.tables()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

TEST(StatisticsReportTest, ANodeReportsWhatItOpenedInTheMonthOnly) {
  const StatisticsPeriod march = MonthOf(2026, 3);
  const std::vector<storage::ReferralFact> facts = {
      Fact("toscana", "lombardia", RomeTime(2026, 3, 2)),
      Fact("toscana", "veneto", RomeTime(2026, 3, 30), v1::REJECTED),
      Fact("lombardia", "toscana", RomeTime(2026, 3, 5)),  // lombardia reports it
      Fact("toscana", "lombardia", RomeTime(2026, 4, 1)),  // April's
  };
  auto report =
      BuildStatisticsReport(facts, {}, {}, {}, "toscana", march, RomeTime(2026, 6, 1), Rome());
  ASSERT_OK(report);
  EXPECT_EQ(report->node_id(), "toscana");
  EXPECT_EQ(FromProtoTime(report->month_start()), march.from);
  const v1::CountTableData* by_month = Data(*report, "mir_by_month");
  ASSERT_NE(by_month, nullptr);
  EXPECT_EQ(by_month->row_labels(0), "2026-03");
  int64_t total = 0;
  for (int64_t c : by_month->counts()) total += c;
  EXPECT_EQ(total, 2);
  EXPECT_EQ(Data(*report, "mir_by_month_inbound"), nullptr) << "counted by its origin";
  const v1::CountTableData* matrix = Data(*report, "origin_destination");
  ASSERT_NE(matrix, nullptr);
  EXPECT_EQ(matrix->row_labels_size(), 1);
  EXPECT_EQ(matrix->row_labels(0), "toscana");
  for (const char* name :
       {"rejection_reasons", "emergencies_by_hour", "contacts_by_month", "contacts_by_channel",
        "contacts_by_reporter_type", "contacts_by_reason", "contacts_by_province"}) {
    EXPECT_NE(Data(*report, name), nullptr) << name;
  }
  EXPECT_OK(CheckStatisticsReport(*report, "toscana", Rome()));
}

// Mediator interventions are counted where they were served: a request
// placed with another node is not counted where it was made.
TEST(StatisticsReportTest, MediatorInterventionsAreCountedWhereServed) {
  const StatisticsPeriod march = MonthOf(2026, 3);
  auto request = [](const char* language, v1::ServiceOutcome outcome, absl::Time at) {
    storage::ServiceRequestRecord r;
    r.facts.set_kind(v1::SERVICE_KIND_MEDIATOR);
    r.facts.set_language(language);
    r.state = v1::SERVICE_DONE;
    r.outcome = outcome;
    r.scheduled_at = at;
    return r;
  };
  std::vector<storage::ServiceRequestRecord> requests = {
      request("pcm", v1::OUTCOME_HELD, RomeTime(2026, 3, 3)),
      request("pcm", v1::OUTCOME_HELD, RomeTime(2026, 3, 9)),
      request("ara", v1::OUTCOME_PERSON_ABSENT, RomeTime(2026, 3, 9)),
      request("pcm", v1::OUTCOME_HELD, RomeTime(2026, 4, 1)),  // April's
  };
  requests.push_back(request("pcm", v1::OUTCOME_HELD, RomeTime(2026, 3, 4)));
  requests.back().placed_with = "nvn";  // served, and counted, there
  requests.push_back(request("pcm", v1::OUTCOME_HELD, RomeTime(2026, 3, 4)));
  requests.back().facts.set_kind(v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW);
  requests.push_back(request("pcm", v1::SERVICE_OUTCOME_UNSPECIFIED, RomeTime(2026, 3, 4)));
  requests.back().state = v1::SERVICE_CANCELLED;

  auto raw = BuildStatistics({}, "toscana", march, RomeTime(2026, 6, 1), Rome(),
                             /*suppressed=*/false, {}, requests);
  ASSERT_OK(raw);
  const v1::StatisticsTable* table = Named(*raw, "mediator_interventions_by_language");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(At(*table, "pcm", "held"), "2");
  EXPECT_EQ(At(*table, "ara", "person absent"), "1");
  EXPECT_EQ(table->grand_total().value(), 3);

  auto report =
      BuildStatisticsReport({}, {}, requests, {}, "toscana", march, RomeTime(2026, 6, 1), Rome());
  ASSERT_OK(report);
  const v1::CountTableData* data = Data(*report, "mediator_interventions_by_language");
  ASSERT_NE(data, nullptr);
  int64_t total = 0;
  for (int64_t c : data->counts()) total += c;
  EXPECT_EQ(total, 3);
}

TEST(StatisticsReportTest, AReportThatCouldMislead) {
  auto good = BuildStatisticsReport({Fact("toscana", "lombardia", RomeTime(2026, 3, 2))}, {}, {},
                                    {}, "toscana", MonthOf(2026, 3), RomeTime(2026, 6, 1), Rome());
  ASSERT_OK(good);
  auto refused = [&](const std::function<void(v1::StatisticsReport&)>& spoil,
                     const std::string& sender = "toscana") {
    v1::StatisticsReport r = *good;
    spoil(r);
    return CheckStatisticsReport(r, sender, Rome());
  };
  const auto kInvalidField = StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD);
  EXPECT_THAT(refused([](auto&) {}, "lombardia"), kInvalidField);  // about another node
  EXPECT_THAT(
      refused([](auto& r) { *r.mutable_month_start() = ToProtoTime(RomeTime(2026, 3, 2, 0)); }),
      kInvalidField);
  EXPECT_THAT(refused([](auto& r) { r.clear_counted_at(); }), kInvalidField);
  EXPECT_THAT(refused([](auto& r) { r.mutable_tables(0)->set_counts(0, -1); }), kInvalidField);
  EXPECT_THAT(refused([](auto& r) { r.mutable_tables(0)->add_counts(1); }), kInvalidField);
  EXPECT_THAT(refused([](auto& r) { r.mutable_tables(0)->set_name("persons_by_name"); }),
              kInvalidField);
  EXPECT_THAT(refused([](auto& r) { *r.add_tables() = r.tables(0); }), kInvalidField);
  EXPECT_THAT(refused([](auto& r) { r.mutable_tables(0)->add_row_labels(""); }), kInvalidField);
  EXPECT_THAT(refused([](auto& r) {
                r.mutable_tables(0)->set_counts(0, INT64_MAX);
                r.mutable_tables(0)->set_counts(1, 1);
              }),
              kInvalidField);
}

// Two regions' March, summed: each cell the sum of theirs; the small cells
// of the sum hidden and not recoverable from what is published.
TEST(StatisticsReportTest, TheNationalTableIsTheSumThenSuppressed) {
  const StatisticsPeriod march = MonthOf(2026, 3);
  std::vector<storage::ReferralFact> facts;
  for (int i = 0; i < 14; ++i) facts.push_back(Fact("toscana", "lombardia", RomeTime(2026, 3, 2)));
  for (int i = 0; i < 3; ++i) facts.push_back(Fact("toscana", "veneto", RomeTime(2026, 3, 3)));
  for (int i = 0; i < 12; ++i) facts.push_back(Fact("lombardia", "toscana", RomeTime(2026, 3, 4)));
  const absl::Time now = RomeTime(2026, 6, 1);
  std::vector<v1::StatisticsReport> reports;
  for (const char* node : {"toscana", "lombardia"}) {
    auto r = BuildStatisticsReport(facts, {}, {}, {}, node, march, now, Rome());
    ASSERT_OK(r);
    reports.push_back(*r);
  }
  auto raw = BuildNationalStatistics(reports, "nvn", march, now, /*suppressed=*/false);
  ASSERT_OK(raw);
  EXPECT_TRUE(raw->national());
  ASSERT_EQ(raw->reports_size(), 2);
  const v1::StatisticsTable& matrix = *Named(*raw, "origin_destination");
  EXPECT_EQ(At(matrix, "toscana", "lombardia"), "14");
  EXPECT_EQ(At(matrix, "toscana", "veneto"), "3");
  EXPECT_EQ(At(matrix, "lombardia", "toscana"), "12");
  EXPECT_EQ(matrix.grand_total().value(), 29);
  EXPECT_EQ(Named(*raw, "mir_by_month")->grand_total().value(), 29);

  auto shown = BuildNationalStatistics(reports, "nvn", march, now, /*suppressed=*/true);
  ASSERT_OK(shown);
  const v1::StatisticsTable& published = *Named(*shown, "origin_destination");
  EXPECT_EQ(At(published, "toscana", "veneto"), "*");
  ASSERT_EQ(shown->tables_size(), raw->tables_size());
  for (int i = 0; i < shown->tables_size(); ++i) {
    SCOPED_TRACE(shown->tables(i).name());
    EXPECT_TRUE(stats::AuditRecoverable(Pattern(raw->tables(i), shown->tables(i))).empty());
  }
}

class NationalStatisticsTest : public StatisticsTest {
 protected:
  std::string SubmitFrom(const std::string& origin, const std::string& destination) {
    const std::string id = NewUuid();
    auto op = PkiSigner(origin + "/operator");
    EXPECT_OK(NodeAt(origin).Submit(op->identity(),
                                    SignReferral(*op, id, destination, v1::URGENCY_ORDINARY),
                                    TestReferralKey(id)));
    return id;
  }
  absl::StatusOr<v1::Statistics> AskNational(StaffClient& who, bool suppressed) {
    v1::StatisticsRequest request;
    request.set_suppressed(suppressed);
    request.set_national(true);
    grpc::ClientContext context;
    v1::Statistics statistics;
    grpc::Status rpc = who.stub().GetStatistics(&context, request, &statistics);
    if (!rpc.ok()) return FromGrpcStatus(rpc);
    return statistics;
  }
  // The reports nvn keeps for this month.
  std::vector<storage::StatisticsReportRecord> KeptAtNvn() {
    const absl::CivilMonth month = absl::ToCivilMonth(absl::Now(), Rome());
    auto kept = Store("nvn").StatisticsReports(absl::FromCivil(month, Rome()),
                                               absl::FromCivil(month + 1, Rome()));
    EXPECT_OK(kept);
    return kept.ok() ? *kept : std::vector<storage::StatisticsReportRecord>{};
  }
  // nvn keeps this month's report of `node` counting `total` referrals.
  bool NvnHas(const std::string& node, int64_t total) {
    return WaitFor([&] {
      for (const storage::StatisticsReportRecord& r : KeptAtNvn()) {
        v1::StatisticsReport report;
        if (r.node_id != node || !report.ParseFromString(r.report)) continue;
        const v1::CountTableData* by_month = Data(report, "mir_by_month");
        int64_t sum = 0;
        for (int64_t c : by_month->counts()) sum += c;
        if (sum == total) return true;
      }
      return false;
    });
  }
};

TEST_F(NationalStatisticsTest, TheNationalTableIsTheSumOfTheRegionalReports) {
  StartAll();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(SubmitFrom("toscana", "lombardia"));
  for (int i = 0; i < 4; ++i) ids.push_back(SubmitFrom("lombardia", "toscana"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(StateIs("lombardia", ids[i], v1::RECEIVED));
  for (int i = 5; i < 9; ++i) ASSERT_TRUE(StateIs("toscana", ids[i], v1::RECEIVED));

  // Every month of the year back is new the first time; nothing the second.
  for (const char* node : {"toscana", "lombardia", "nvn"}) {
    auto reported = NodeAt(node).ReportStatistics();
    ASSERT_OK(reported);
    EXPECT_EQ(*reported, broker::kStatisticsReportMonths) << node;
    reported = NodeAt(node).ReportStatistics();
    ASSERT_OK(reported);
    EXPECT_EQ(*reported, 0) << node << " sends a month again only when it changed";
  }
  ASSERT_TRUE(NvnHas("toscana", 5));
  ASSERT_TRUE(NvnHas("lombardia", 4));

  StaffClient nvn_operator = Staff("nvn/operator");
  auto national = AskNational(nvn_operator, /*suppressed=*/false);
  ASSERT_OK(national);
  EXPECT_TRUE(national->national());
  // Each table is the cell-by-cell sum of the reports nvn keeps (its own
  // included), whatever the months.
  std::map<std::string, std::vector<stats::CountTable>> parts;
  const absl::CivilMonth month = absl::ToCivilMonth(absl::Now(), Rome());
  auto all = Store("nvn").StatisticsReports(absl::FromCivil(absl::CivilYear(month.year()), Rome()),
                                            absl::FromCivil(month + 1, Rome()));
  ASSERT_OK(all);
  std::set<std::string> nodes;
  for (const storage::StatisticsReportRecord& r : *all) {
    nodes.insert(r.node_id);
    v1::StatisticsReport report;
    ASSERT_TRUE(report.ParseFromString(r.report));
    for (const v1::CountTableData& t : report.tables()) {
      auto table = stats::CountTable::Create({t.row_labels().begin(), t.row_labels().end()},
                                             {t.column_labels().begin(), t.column_labels().end()});
      ASSERT_OK(table);
      for (int i = 0; i < t.counts_size(); ++i) {
        ASSERT_OK(table->Set(i / table->cols(), i % table->cols(), t.counts(i)));
      }
      parts[t.name()].push_back(*table);
    }
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"lombardia", "nvn", "toscana"}));
  ASSERT_EQ(national->tables_size(), static_cast<int>(parts.size()));
  for (const v1::StatisticsTable& t : national->tables()) {
    SCOPED_TRACE(t.name());
    auto sum = stats::Sum(parts[t.name()]);
    ASSERT_OK(sum);
    ASSERT_EQ(t.rows_size(), static_cast<int>(sum->rows()));
    for (size_t r = 0; r < sum->rows(); ++r) {
      for (size_t c = 0; c < sum->cols(); ++c) {
        EXPECT_EQ(At(t, sum->row_labels()[r], sum->column_labels()[c]),
                  absl::StrCat(sum->cell(r, c)));
      }
    }
    EXPECT_EQ(t.grand_total().value(), sum->GrandTotal());
  }
  // Each referral once, though toscana, nvn and lombardia all hold it.
  const v1::StatisticsTable& matrix = *Named(*national, "origin_destination");
  EXPECT_EQ(At(matrix, "toscana", "lombardia"), "5");
  EXPECT_EQ(At(matrix, "lombardia", "toscana"), "4");
  EXPECT_EQ(Named(*national, "mir_by_month")->grand_total().value(), 9);

  // Published: the 5 and the 4 hidden, and not recoverable.
  auto shown = AskNational(nvn_operator, /*suppressed=*/true);
  ASSERT_OK(shown);
  EXPECT_EQ(At(*Named(*shown, "origin_destination"), "toscana", "lombardia"), "*");
  for (int i = 0; i < shown->tables_size(); ++i) {
    EXPECT_TRUE(stats::AuditRecoverable(Pattern(national->tables(i), shown->tables(i))).empty());
  }

  // One more at toscana: its month is reported again and replaces the old one.
  ids.push_back(SubmitFrom("toscana", "lombardia"));
  auto again = NodeAt("toscana").ReportStatistics();
  ASSERT_OK(again);
  EXPECT_EQ(*again, 1);
  ASSERT_TRUE(NvnHas("toscana", 6));
  national = AskNational(nvn_operator, /*suppressed=*/false);
  ASSERT_OK(national);
  EXPECT_EQ(Named(*national, "mir_by_month")->grand_total().value(), 10);

  // Only the national node has a national table; only operators ask.
  StaffClient toscana_operator = Staff("toscana/operator");
  EXPECT_THAT(AskNational(toscana_operator, true).status(),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_FIELD));
  StaffClient nvn_partner = Staff("nvn/partner");
  EXPECT_THAT(AskNational(nvn_partner, true).status(),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

// Reports that must not count: to a region, about another node, malformed.
// Each is refused with its reason and nvn keeps nothing.
TEST_F(NationalStatisticsTest, AReportThatMustNotCountIsRefusedAndKeepsNothing) {
  StartAll();
  const absl::Time now = absl::Now();
  const absl::CivilMonth month = absl::ToCivilMonth(now, Rome());
  const StatisticsPeriod period{absl::FromCivil(month, Rome()), absl::FromCivil(month + 1, Rome())};
  auto report = BuildStatisticsReport({}, {}, {}, {}, "toscana", period, now, Rome());
  ASSERT_OK(report);
  auto send = [&](const std::string& to, const std::string& body) {
    v1::EnvelopeHeader header;
    header.set_message_id(NewUuid());
    header.set_kind(v1::STATISTICS_REPORT);
    header.set_recipient_node(to);
    *header.mutable_created_at() = ToProtoTime(absl::Now());
    auto bytes = PkiSigner("toscana/node")->SignEnvelope(header, body);
    EXPECT_OK(bytes);
    return NodeAt(to).Deliver(Identity{"toscana", Role::kNode, ""}, *bytes).status();
  };
  EXPECT_THAT(send("lombardia", report->SerializeAsString()),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  v1::StatisticsReport other = *report;
  other.set_node_id("lombardia");
  EXPECT_THAT(send("nvn", other.SerializeAsString()),
              StatusIsReason(StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(send("nvn", "\x0a\xff not a report"),
              StatusIsReason(StatusCode::kInvalidArgument, v1::MALFORMED_BODY));
  EXPECT_TRUE(KeptAtNvn().empty());
  // The same report, well addressed, is kept.
  EXPECT_OK(send("nvn", report->SerializeAsString()));
  EXPECT_EQ(KeptAtNvn().size(), 1u);
}

// The person tables: gender and age band from the clear body, nationality
// and exploitation from the sealed part, opened at the origin, which holds
// the key; counted in the node's tables and in the report nvn sums.
TEST_F(NationalStatisticsTest, PersonTablesCountSealedFieldsAtTheOriginOnly) {
  StartAll();
  auto op = PkiSigner("toscana/operator");
  std::vector<std::string> ids;
  for (const char* nationality : {"NG", "NG", "RO"}) {
    v1::Referral r;  // fictional
    const std::string id = NewUuid();
    r.set_referral_id(id);
    r.set_origin_node("toscana");
    r.set_destination_node("lombardia");
    r.set_person_code("TEST-" + id.substr(0, 8));
    r.set_urgency(v1::URGENCY_ORDINARY);
    r.set_danger_level(v1::DANGER_LEVEL_MEDIUM);
    r.add_requested_services(v1::SERVICE_SECOND_RECEPTION);
    r.mutable_consent()->set_given(true);
    r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
    r.set_gender(v1::GENDER_FEMALE);
    r.set_age_band(v1::AGE_BAND_18_24);
    r.set_nationality(nationality);
    r.add_exploitation_types(v1::EXPLOITATION_SEXUAL_STREET);
    r.add_exploitation_types(v1::EXPLOITATION_LABOUR);
    SealForTest(r);
    v1::EnvelopeHeader header;
    header.set_message_id(NewUuid());
    header.set_kind(v1::REFERRAL);
    header.set_recipient_node("lombardia");
    *header.mutable_created_at() = ToProtoTime(absl::Now());
    header.set_referral_id(id);
    header.set_sequence(1);
    auto envelope = op->SignEnvelope(header, r.SerializeAsString());
    ASSERT_OK(envelope);
    ASSERT_OK(NodeAt("toscana").Submit(op->identity(), *envelope, TestReferralKey(id)));
    ids.push_back(id);
  }
  ids.push_back(SubmitFrom("toscana", "lombardia"));  // nothing about the person recorded
  for (const std::string& id : ids) ASSERT_TRUE(StateIs("lombardia", id, v1::RECEIVED));

  StaffClient anna = Staff("toscana/operator");
  auto raw = Ask(anna, /*suppressed=*/false);
  ASSERT_OK(raw);
  const v1::StatisticsTable& nationality = *Named(*raw, "mir_by_nationality");
  EXPECT_EQ(At(nationality, "NG", "pending"), "2");
  EXPECT_EQ(At(nationality, "RO", "pending"), "1");
  EXPECT_EQ(At(nationality, "not recorded", "pending"), "1");
  EXPECT_EQ(At(*Named(*raw, "mir_by_gender"), "female", "pending"), "3");
  EXPECT_EQ(At(*Named(*raw, "mir_by_age_band"), "18 24", "pending"), "3");
  const v1::StatisticsTable& exploitation = *Named(*raw, "mir_by_exploitation");
  EXPECT_EQ(At(exploitation, "sexual street", "pending"), "3");
  EXPECT_EQ(At(exploitation, "labour", "pending"), "3");
  // Published: every one of these small counts hidden.
  auto shown = Ask(anna, /*suppressed=*/true);
  ASSERT_OK(shown);
  EXPECT_EQ(At(*Named(*shown, "mir_by_nationality"), "NG", "pending"), "*");

  // The report toscana sends nvn carries them; nvn's national table sums them.
  ASSERT_OK(NodeAt("toscana").ReportStatistics());
  ASSERT_TRUE(NvnHas("toscana", 4));
  StaffClient nvn_operator = Staff("nvn/operator");
  auto national = AskNational(nvn_operator, /*suppressed=*/false);
  ASSERT_OK(national);
  EXPECT_EQ(At(*Named(*national, "mir_by_nationality"), "NG", "pending"), "2");
  EXPECT_EQ(At(*Named(*national, "mir_by_exploitation"), "labour", "pending"), "3");
}

}  // namespace
}  // namespace mir::testing
