#ifndef MIR_BROKER_CONTACT_STATISTICS_H_
#define MIR_BROKER_CONTACT_STATISTICS_H_

// The contact tables of a node's statistics (docs/STATISTICS.md, "Contacts"):
// the citizen reports it took itself (its own channel: phone, web form,
// e-mail, in person), by month, channel, reporter type, reason and province, each
// against the triage outcome. Reports routed here by another node were
// counted by the node that took them, and are not counted again. Pure
// functions, no I/O. Thread-safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/statistics.h"
#include "storage/store.h"

namespace mir::broker {

// contacts_by_month, contacts_by_channel, contacts_by_reporter_type,
// contacts_by_reason, contacts_by_province (the provinces named, then "not
// given"); `reports` are those recorded in `period`.
absl::StatusOr<std::vector<NamedTable>> BuildContactTables(
    const std::vector<storage::ReportRecord>& reports, const std::string& node,
    const StatisticsPeriod& period, const absl::TimeZone& zone);

}  // namespace mir::broker

#endif  // MIR_BROKER_CONTACT_STATISTICS_H_
