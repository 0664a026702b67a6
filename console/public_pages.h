#ifndef MIR_CONSOLE_PUBLIC_PAGES_H_
#define MIR_CONSOLE_PUBLIC_PAGES_H_

// The public form's pages (docs/CONSOLE-API.md, "The public form"): whole
// HTML documents, Italian first and English on request, that work without
// JavaScript (plain form posts) and load only /form.css and /form.js from
// the same listener. Every value written into a page is HTML-escaped. No
// I/O; thread-safe.

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mir/v1/report.pb.h"

namespace mir::console {

enum class PageLang { kIt, kEn };

// "en" -> kEn; anything else kIt.
PageLang PageLangOf(absl::string_view value);

// The sentence shown when someone is in immediate danger, in both
// languages (whoever reads it may read only one).
inline constexpr absl::string_view kCall112 =
    "Se qualcuno è in pericolo immediato chiama subito il 112 / If someone is in immediate "
    "danger call 112 now";

using FormValues = std::multimap<std::string, std::string>;

// The report form. `values`: what was sent (kept in the fields after a
// refusal); `error_field` and `error_text`: the refusal, shown at the top
// and at the field ("" for none); `form_token`: the form's one-time token
// (form_once.h), sent back with it.
std::string FormPage(PageLang lang, const FormValues& values, absl::string_view error_field,
                     absl::string_view error_text, absl::string_view form_token);

// The receipt: code and passphrase, shown once; the 112 sentence when the
// report said someone is in immediate danger.
std::string ReceiptPage(PageLang lang, const v1::PublicReportResponse& receipt,
                        bool immediate_danger);

// The follow-up form, with an error (field may be "") when there is one.
std::string FollowUpPage(PageLang lang, absl::string_view error_field,
                         absl::string_view error_text);
// What the reporter may know; the same page for any unknown code or wrong
// passphrase is NoSuchReportPage.
std::string ProgressPage(PageLang lang, const v1::FollowUpResponse& progress);
std::string NoSuchReportPage(PageLang lang);

// A page that only says what went wrong and what to do (413, 429, 403, 404,
// 503, 500), with the 112 sentence.
enum class Trouble { kTooLarge, kTooMany, kCrossOrigin, kNotFound, kUnavailable, kFailed };
std::string TroublePage(PageLang lang, Trouble trouble);

// The form's words for a field name (reporter_type -> "Chi segnala"), for
// refusals; the name itself when unknown.
std::string FieldLabel(PageLang lang, absl::string_view field);

// A refusal of `field` in words (INVALID_FIELD from the console or node).
std::string FieldProblem(PageLang lang, absl::string_view field);

}  // namespace mir::console

#endif  // MIR_CONSOLE_PUBLIC_PAGES_H_
