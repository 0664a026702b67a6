#ifndef MIR_CLIENT_REPORT_FORMAT_H_
#define MIR_CLIENT_REPORT_FORMAT_H_

// What `mirctl report ...` prints. Enum values without their prefixes
// (PHONE, CITIZEN, QUALIFIED, RECEIVED), times in UTC, "-" for what is not
// set. Pure; thread-safe.
//
// Only FormatReportView prints a report's sealed parts (municipality,
// description) and the reporter's contact, for `mirctl report show`; every
// other output goes through WithoutSealedParts first or never reads them.

#include <string>

#include "mir/v1/report.pb.h"

namespace mir::client {

// `view` with municipality, description and contact cleared: what record,
// triage and link may print (also with --json).
v1::ReportView WithoutSealedParts(v1::ReportView view);

// `report list`: a table and a count line ("3 reports, 1 awaiting triage,
// 1 in immediate danger"); "no reports match" when empty.
std::string FormatReportSummaries(const v1::ListReportsResponse& list);

// `report record`: "report ID recorded: RECEIVED, awaiting triage", and, for
// a report of immediate danger, a second line reminding that the reporter
// was to be told to call 112.
std::string FormatRecorded(const v1::ReportView& view);

// `report triage` and `report link`: one line with the state that follows.
std::string FormatTriaged(const v1::ReportView& view);
std::string FormatLinked(const v1::ReportView& view);

// The events, oldest first: when, what, by whom, and the triage, node or
// referral of the step.
std::string FormatReportEvents(const v1::ReportView& view);

// `report show`: summary, the report with its sealed parts, and the events.
// The contact is printed when the node sent it (asked with --contact);
// otherwise whether there is one. Control characters in the free text (which
// may come from the public web form) are shown as '?', so that what a
// stranger typed cannot drive the operator's terminal.
std::string FormatReportView(const v1::ReportView& view);

}  // namespace mir::client

#endif  // MIR_CLIENT_REPORT_FORMAT_H_
