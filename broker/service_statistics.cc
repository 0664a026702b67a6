#include "broker/service_statistics.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace mir::broker {
namespace {

// "OUTCOME_PERSON_ABSENT" -> "person absent".
std::string OutcomeLabel(v1::ServiceOutcome outcome) {
  std::string label(absl::StripPrefix(v1::ServiceOutcome_Name(outcome), "OUTCOME_"));
  absl::AsciiStrToLower(&label);
  return absl::StrReplaceAll(label, {{"_", " "}});
}

bool Counted(const storage::ServiceRequestRecord& r, const StatisticsPeriod& period) {
  return r.facts.kind() == v1::SERVICE_KIND_MEDIATOR && r.state == v1::SERVICE_DONE &&
         r.placed_with.empty() && r.scheduled_at.has_value() && *r.scheduled_at >= period.from &&
         *r.scheduled_at < period.to && !r.facts.language().empty();
}

}  // namespace

absl::StatusOr<NamedTable> BuildMediatorTable(
    const std::vector<storage::ServiceRequestRecord>& requests, const StatisticsPeriod& period) {
  std::set<std::string> languages;
  for (const storage::ServiceRequestRecord& r : requests) {
    if (Counted(r, period)) languages.insert(r.facts.language());
  }
  std::vector<std::string> outcomes;
  for (int o = v1::ServiceOutcome_MIN; o <= v1::ServiceOutcome_MAX; ++o) {
    if (o == v1::SERVICE_OUTCOME_UNSPECIFIED || !v1::ServiceOutcome_IsValid(o)) continue;
    outcomes.push_back(OutcomeLabel(static_cast<v1::ServiceOutcome>(o)));
  }
  ASSIGN_OR_RETURN(stats::CountTable table,
                   stats::CountTable::Create({languages.begin(), languages.end()}, outcomes));
  for (const storage::ServiceRequestRecord& r : requests) {
    if (!Counted(r, period)) continue;
    RETURN_IF_ERROR(table.Add(r.facts.language(), OutcomeLabel(r.outcome), 1));
  }
  return NamedTable{"mediator_interventions_by_language",
                    "Mediator interventions by language and outcome",
                    "Mediator requests this node served (a request placed with another node is "
                    "counted there), DONE, by the ISO 639-3 language and the outcome, in the "
                    "period they were scheduled for.",
                    std::move(table)};
}

}  // namespace mir::broker
