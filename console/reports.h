#ifndef MIR_CONSOLE_REPORTS_H_
#define MIR_CONSOLE_REPORTS_H_

// Citizen reports (DOMAIN.md, "Citizen reports") as the console takes them:
// the checks the node makes too, done first so that a report the node would
// refuse never leaves the console, and the public form's fields
// (application/x-www-form-urlencoded) read into a CitizenReport. Refusals
// are INVALID_ARGUMENT with reason INVALID_FIELD and the field's name as the
// form and mir.v1.CitizenReport spell it (reporter_type, province, ...);
// messages never quote what was typed. No I/O; thread-safe.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mir/v1/report.pb.h"

namespace mir::console {

// Limits of the node (bytes, UTF-8).
inline constexpr size_t kMaxDescriptionBytes = 4000;
inline constexpr size_t kMaxMunicipalityBytes = 100;
inline constexpr size_t kMaxContactBytes = 200;
inline constexpr uint32_t kMaxPersons = 1000;

// Checked in this order, one field per refusal: channel, reporter_type and
// reason given; province an Italian province code or empty; language an
// ISO 639-3 code; exploitation types known; persons at most 1000;
// municipality, description and contact within their sizes, UTF-8, and
// without control characters but newline and tab.
absl::Status ValidateReport(const v1::CitizenReport& report);

// "a=1&b=x+y%21" -> {a: "1", b: "x y!"}. INVALID_ARGUMENT (MALFORMED) for a
// broken %-escape.
absl::StatusOr<std::multimap<std::string, std::string>> ParseUrlEncoded(absl::string_view body);

// The public form's fields into a report (channel WEB_FORM), then
// ValidateReport. Fields: reporter_type, reason (enum names), province,
// municipality, suspected_exploitation (repeated, enum names), persons
// (0-1000, empty: 0), minors_suspected, immediate_danger (checkboxes: any
// value is ticked), description, language, contact. Others are ignored.
// Text is trimmed and its CR LF line ends (as browsers send them) become LF.
absl::StatusOr<v1::CitizenReport> ReportFromForm(
    const std::multimap<std::string, std::string>& form);

// The field a refusal names: the console's own, else the one a node's
// INVALID_FIELD message starts with ("field province must ...").
std::string ReportFieldOf(const absl::Status& status);

}  // namespace mir::console

#endif  // MIR_CONSOLE_REPORTS_H_
