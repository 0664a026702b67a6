#ifndef MIR_BROKER_REPORT_RULES_H_
#define MIR_BROKER_REPORT_RULES_H_

// The rules of citizen reports (PROTOCOL.md §14): what a report may hold,
// which step may follow which, and what the public follow-up shows. Pure
// functions, no I/O: the node applies them inside its transactions.
// Refusals name the field or the state, never a value a person typed.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mir/v1/report.pb.h"
#include "storage/store.h"

namespace mir::broker {

inline constexpr size_t kMaxReportDescriptionBytes = 4000;
inline constexpr size_t kMaxReportMunicipalityBytes = 100;
inline constexpr size_t kMaxReportContactBytes = 200;
inline constexpr uint32_t kMaxReportPersons = 1000;

// INVALID_ARGUMENT INVALID_FIELD naming the first field that is missing or
// wrong: channel, reporter type and reason are required; an enum value must
// be one the protocol defines; the language an ISO 639-3 code; the
// province an Italian province code; the texts valid UTF-8 within their
// limits.
absl::Status CheckReport(const v1::CitizenReport& report);

// The report without its sealed parts (municipality, description, contact):
// what is kept in clear, counted, and signed in its events.
v1::CitizenReport ClearFacts(const v1::CitizenReport& report);

// Whether `report` may be triaged as `triage`, and sent on to `route_to`
// (empty: kept here) from node `self`: only a report still RECEIVED; a
// triage that is specified; a route only for PERTINENT or QUALIFIED, to a
// valid node other than `self`. FAILED_PRECONDITION INVALID_TRANSITION
// naming the state, or INVALID_ARGUMENT INVALID_FIELD.
absl::Status CheckTriage(const storage::ReportRecord& report, v1::Triage triage,
                         const std::string& route_to, const std::string& self);

// Whether `report` may be linked to a referral: triaged PERTINENT or
// QUALIFIED, kept here (not routed on), not linked yet.
absl::Status CheckLink(const storage::ReportRecord& report);

// What the reporter may learn through the follow-up page.
v1::FollowUpResponse::Progress ProgressOf(const storage::ReportRecord& report);

// A receipt code: 12 random Crockford base-32 characters in groups of 4
// ("K7QF-3MZP-XW2D", 60 bits), and a passphrase: 20 of them (100 bits), in
// groups of 5. Looked up by code, checked by the passphrase's hash.
std::string NewReceiptCode();
std::string NewPassphrase();
// The code as typed: upper case, dashes and spaces dropped, then grouped.
// INVALID_ARGUMENT for anything but 12 base-32 characters.
absl::StatusOr<std::string> CanonicalReceiptCode(absl::string_view typed);
// SHA-256 over a domain tag, the code and the passphrase (normalised like
// the code). A random 100-bit passphrase needs no slow hash.
std::string PassphraseHash(absl::string_view receipt_code, absl::string_view passphrase);

// Field names of the sealed parts, for the key's owner in the key table.
std::string ReportKeyOwner(absl::string_view report_id);

}  // namespace mir::broker

#endif  // MIR_BROKER_REPORT_RULES_H_
