// submit's field flags: each names one mir.v1.Referral field (a dotted path
// for nested ones) and is parsed by that field's type through reflection.

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/command_internal.h"
#include "client/values.h"
#include "common/status_macros.h"

namespace mir::client {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

struct FieldFlag {
  const char* flag;
  const char* path;  // field path in mir.v1.Referral
  const char* value_name;
  const char* help;
};

constexpr FieldFlag kFieldFlags[] = {
    {"person-code", "person_code", "CODE",
     "the opaque code your hotline gave the person (required)"},
    {"case-ref", "origin_case_ref", "REF", "your case-worker's opaque reference"},
    {"urgency", "urgency", "URGENCY", "how urgent (required)"},
    {"danger", "danger_level", "LEVEL", "danger level"},
    {"transfer-reason", "transfer_reasons", "REASON", "why a transfer, repeatable"},
    {"service", "requested_services", "SERVICE", "requested service, repeatable"},
    {"gender", "gender", "GENDER", "gender"},
    {"age-band", "age_band", "BAND", "age band"},
    {"age-basis", "age_basis", "BASIS", "how the age band is known"},
    {"nationality", "nationality", "CC", "ISO 3166-1 alpha-2 code, e.g. NG"},
    {"language", "languages", "LANG", "ISO 639-3 language spoken, e.g. pcm; repeatable"},
    {"mediator-language", "mediator_language", "LANG", "ISO 639-3 language the mediator needs"},
    {"mediator-same-gender", "mediator_same_gender", "", "the mediator must be of the same gender"},
    {"exploitation", "exploitation_types", "TYPE", "form of exploitation, repeatable"},
    {"labour-sector", "labour_sector", "SECTOR", "sector, with --exploitation LABOUR"},
    {"identification", "identification_status", "STATUS", "identification status"},
    {"phase", "programme_phase", "PHASE", "programme phase"},
    {"permit", "permit_status", "PERMIT", "residence permit status"},
    {"asylum", "asylum_status", "STATUS", "asylum status"},
    {"judicial", "judicial_involvement", "", "judicial authorities are involved (a flag only)"},
    {"need", "needs", "NEED", "a specific need, repeatable"},
    {"excluded-area", "excluded_areas", "AREA", "ISO 3166-2 or province code to avoid, repeatable"},
    {"preferred-area", "preferred_areas", "AREA",
     "ISO 3166-2 or province code preferred, repeatable"},
    {"dependents", "dependents.count", "N", "number of dependents travelling with the person"},
    {"dependent-age-band", "dependents.age_bands", "BAND", "a dependent's age band, repeatable"},
    {"consent", "consent.given", "", "the person consented to this referral (required)"},
    {"consent-at", "consent.given_at", "TIME", "when consent was given (default: now)"},
    {"consent-method", "consent.method", "METHOD", "how consent was recorded"},
    {"consent-scope", "consent.scope", "SCOPE", "what the consent covers"},
    {"notes", "notes", "TEXT", "free text for the receiving operator, at most 2,000 characters"},
    {"ack-deadline", "ack_deadline", "TIME",
     "EMERGENCY_24H: acknowledge by then (default: the node's deadline)"},
};

// The message holding the last component of `path`, and that field.
std::pair<Message*, const FieldDescriptor*> Resolve(Message* root, absl::string_view path) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  Message* message = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const FieldDescriptor* f = message->GetDescriptor()->FindFieldByName(parts[i]);
    message = message->GetReflection()->MutableMessage(message, f);
  }
  return {message, message->GetDescriptor()->FindFieldByName(parts.back())};
}

const FieldDescriptor* FieldOf(absl::string_view path) {
  v1::Referral scratch;
  return Resolve(&scratch, path).second;
}

FlagSpec SpecOf(const FieldFlag& ff) {
  const FieldDescriptor* f = FieldOf(ff.path);
  FlagSpec spec{ff.flag, FlagSpec::Kind::kValue, ff.value_name, ff.help};
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) spec.kind = FlagSpec::Kind::kBool;
  if (f->is_repeated()) spec.kind = FlagSpec::Kind::kRepeated;
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    absl::StrAppend(&spec.help, ": ", JoinAlternatives(ShortEnumNames(f->enum_type())));
  }
  return spec;
}

absl::Status SetValue(Message* m, const FieldDescriptor* f, const std::string& text,
                      const std::string& flag) {
  const auto* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM: {
      auto number = ParseEnumName(f->enum_type(), text, flag);
      if (!number.ok()) return UsageError(number.status().message());
      f->is_repeated() ? r->AddEnumValue(m, f, *number) : r->SetEnumValue(m, f, *number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING:
      f->is_repeated() ? r->AddString(m, f, text) : r->SetString(m, f, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(m, f, true);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t n;
      if (!absl::SimpleAtoi(text, &n))
        return UsageError(absl::StrCat(flag, " must be a whole number"));
      r->SetUInt32(m, f, n);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {  // google.protobuf.Timestamp
      auto t = ParseTimeFlag(text, flag);
      if (!t.ok()) return UsageError(t.status().message());
      r->MutableMessage(m, f)->CopyFrom(ToTimestamp(*t));
      return absl::OkStatus();
    }
    default:
      return absl::InternalError(absl::StrCat(flag, " has a type mirctl cannot read"));
  }
}

}  // namespace

const std::vector<FlagSpec>& ReferralFieldFlags() {
  static const std::vector<FlagSpec> specs = [] {
    std::vector<FlagSpec> v;
    for (const FieldFlag& ff : kFieldFlags) v.push_back(SpecOf(ff));
    return v;
  }();
  return specs;
}

bool HasReferralFieldFlags(const ParsedFlags& flags) {
  for (const FieldFlag& ff : kFieldFlags) {
    if (flags.Has(ff.flag)) return true;
  }
  return false;
}

absl::Status ApplyReferralFlags(const ParsedFlags& flags, v1::Referral& referral) {
  for (const FieldFlag& ff : kFieldFlags) {
    if (!flags.Has(ff.flag)) continue;
    auto [message, field] = Resolve(&referral, ff.path);
    for (const std::string& value : flags.GetAll(ff.flag)) {
      RETURN_IF_ERROR(SetValue(message, field, value, absl::StrCat("--", ff.flag)));
    }
  }
  return absl::OkStatus();
}

}  // namespace mir::client
