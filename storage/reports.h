#ifndef MIR_STORAGE_REPORTS_H_
#define MIR_STORAGE_REPORTS_H_

// Internal to storage/: citizen reports (schema v11: reports,
// report_contacts, report_events) on the caller's connection, for the write
// transaction's Txn and for the read connection (Read, QueryReports). The
// store checks no report rule; see store.h for each operation's contract.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::reports {

absl::StatusOr<std::optional<ReportRecord>> Get(Db& db, const std::string& report_id);
absl::StatusOr<std::optional<ReportRecord>> FindByReceiptCode(Db& db,
                                                              const std::string& receipt_code);
absl::StatusOr<std::vector<std::string>> Events(Db& db, const std::string& report_id);
absl::StatusOr<std::optional<std::string>> Contact(Db& db, const std::string& report_id);
absl::StatusOr<std::vector<ReportRecord>> Query(Db& db, const ReportQuery& query);

absl::Status Insert(Db& db, const ReportRecord& report);
absl::Status Update(Db& db, const ReportRecord& report);
absl::Status PutContact(Db& db, const std::string& report_id, const std::string& sealed);
absl::Status AppendEvent(Db& db, const std::string& report_id, uint64_t sequence,
                         const std::string& envelope);

}  // namespace mir::storage::reports

#endif  // MIR_STORAGE_REPORTS_H_
