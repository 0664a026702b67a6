#include "broker/report_rules.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/codes.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/identity.h"

namespace mir::broker {
namespace {

absl::Status BadField(absl::string_view field, absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat("field ", field, " ", why));
}

absl::Status BadState(const storage::ReportRecord& report, absl::string_view what) {
  return MirError(
      absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
      absl::StrCat("report ", report.report_id, " is ", v1::ReportState_Name(report.state),
                   report.triage != v1::TRIAGE_UNSPECIFIED
                       ? absl::StrCat(" (", v1::Triage_Name(report.triage), ")")
                       : "",
                   ": ", what));
}

// Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// Valid UTF-8 of at most `limit` bytes, without control characters other
// than newline and tab.
absl::Status CheckText(absl::string_view field, const std::string& text, size_t limit) {
  if (text.size() > limit) {
    return BadField(field, absl::StrCat("is longer than ", limit, " bytes"));
  }
  if (!IsValidUtf8(text)) return BadField(field, "is not valid UTF-8");
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      return BadField(field, "holds a control character");
    }
  }
  return absl::OkStatus();
}

template <typename IsValid>
absl::Status CheckEnum(absl::string_view field, int value, IsValid is_valid, bool required) {
  if (!is_valid(value)) return BadField(field, "is not a value the protocol defines");
  if (required && value == 0) return BadField(field, "is required");
  return absl::OkStatus();
}

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::string RandomBase32(size_t n, size_t group) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && i % group == 0) out.push_back('-');
    out.push_back(kCrockford[randombytes_uniform(32)]);
  }
  return out;
}

// Upper case, without dashes and spaces; Crockford's look-alikes mapped.
std::string Normalised(absl::string_view typed) {
  std::string out;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    c = absl::ascii_toupper(static_cast<unsigned char>(c));
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    out.push_back(c);
  }
  return out;
}

}  // namespace

absl::Status CheckReport(const v1::CitizenReport& r) {
  RETURN_IF_ERROR(CheckEnum("channel", r.channel(), v1::ContactChannel_IsValid, true));
  RETURN_IF_ERROR(CheckEnum("reporter_type", r.reporter_type(), v1::ReporterType_IsValid, true));
  RETURN_IF_ERROR(CheckEnum("reason", r.reason(), v1::ContactReason_IsValid, true));
  for (int i = 0; i < r.suspected_exploitation_size(); ++i) {
    RETURN_IF_ERROR(CheckEnum(absl::StrCat("suspected_exploitation[", i, "]"),
                              r.suspected_exploitation(i), v1::ExploitationType_IsValid, true));
  }
  if (r.suspected_exploitation_size() > 16) {
    return BadField("suspected_exploitation", "lists more than 16 types");
  }
  if (!r.province().empty() && !IsItalianProvince(r.province())) {
    return BadField("province", "must be an Italian province code such as FI");
  }
  if (!r.language().empty() && !IsIso639_3(r.language())) {
    return BadField("language", "must be an ISO 639-3 language code such as ita or pcm");
  }
  if (r.persons() > kMaxReportPersons) {
    return BadField("persons", absl::StrCat("must be at most ", kMaxReportPersons));
  }
  RETURN_IF_ERROR(CheckText("municipality", r.municipality(), kMaxReportMunicipalityBytes));
  RETURN_IF_ERROR(CheckText("description", r.description(), kMaxReportDescriptionBytes));
  RETURN_IF_ERROR(CheckText("contact", r.contact(), kMaxReportContactBytes));
  return absl::OkStatus();
}

v1::CitizenReport ClearFacts(const v1::CitizenReport& report) {
  v1::CitizenReport clear = report;
  clear.clear_municipality();
  clear.clear_description();
  clear.clear_contact();
  return clear;
}

absl::Status CheckTriage(const storage::ReportRecord& report, v1::Triage triage,
                         const std::string& route_to, const std::string& self) {
  RETURN_IF_ERROR(CheckEnum("triage", triage, v1::Triage_IsValid, true));
  if (report.state != v1::REPORT_RECEIVED) {
    return BadState(report, "only a report still RECEIVED is triaged");
  }
  if (route_to.empty()) return absl::OkStatus();
  if (triage != v1::TRIAGE_PERTINENT && triage != v1::TRIAGE_QUALIFIED) {
    return BadField("route_to", "goes only with a PERTINENT or QUALIFIED triage");
  }
  if (!IsValidNodeId(route_to)) return BadField("route_to", "must be a node id such as nvn");
  if (route_to == self) return BadField("route_to", "names this node: leave it empty to keep it");
  return absl::OkStatus();
}

absl::Status CheckLink(const storage::ReportRecord& report) {
  if (report.state != v1::REPORT_TRIAGED) {
    return BadState(report, "only a triaged report kept at this node is linked to a referral");
  }
  if (report.triage != v1::TRIAGE_PERTINENT && report.triage != v1::TRIAGE_QUALIFIED) {
    return BadState(report, "only a PERTINENT or QUALIFIED report becomes a referral");
  }
  if (!report.referral_id.empty()) {
    return BadState(report, absl::StrCat("it is linked to referral ", report.referral_id));
  }
  return absl::OkStatus();
}

v1::FollowUpResponse::Progress ProgressOf(const storage::ReportRecord& report) {
  switch (report.triage) {
    case v1::TRIAGE_PERTINENT:
    case v1::TRIAGE_QUALIFIED:
      return v1::FollowUpResponse::IN_HAND;
    case v1::TRIAGE_NOT_PERTINENT:
    case v1::TRIAGE_NUISANCE:
      return v1::FollowUpResponse::CLOSED;
    default:
      return v1::FollowUpResponse::RECEIVED;
  }
}

std::string NewReceiptCode() { return RandomBase32(12, 4); }

std::string NewPassphrase() { return RandomBase32(20, 5); }

absl::StatusOr<std::string> CanonicalReceiptCode(absl::string_view typed) {
  const std::string code = Normalised(typed);
  bool ok = code.size() == 12;
  for (char c : code) ok = ok && std::string_view(kCrockford).find(c) != std::string_view::npos;
  if (!ok) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "field receipt_code must be 12 letters and digits, like K7QF-3MZP-XW2D");
  }
  return absl::StrCat(code.substr(0, 4), "-", code.substr(4, 4), "-", code.substr(8, 4));
}

std::string PassphraseHash(absl::string_view receipt_code, absl::string_view passphrase) {
  return Sha256(absl::StrCat("mir-report-passphrase-v1", std::string(1, '\0'),
                             Normalised(receipt_code), std::string(1, '\0'),
                             Normalised(passphrase)));
}

std::string ReportKeyOwner(absl::string_view report_id) {
  return absl::StrCat("report:", report_id);
}

}  // namespace mir::broker
