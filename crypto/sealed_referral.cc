#include "crypto/sealed_referral.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace mir {
namespace {

using google::protobuf::FieldDescriptor;

// Referral's descriptor for each SealedReferral field (same numbers).
std::vector<const FieldDescriptor*> SealedReferralFields() {
  std::vector<const FieldDescriptor*> fields;
  const auto* sealed = v1::SealedReferral::descriptor();
  const auto* referral = v1::Referral::descriptor();
  for (int i = 0; i < sealed->field_count(); ++i) {
    fields.push_back(referral->FindFieldByNumber(sealed->field(i)->number()));
  }
  return fields;
}

bool IsSet(const v1::Referral& referral, const FieldDescriptor* field) {
  const auto* reflection = referral.GetReflection();
  return field->is_repeated() ? reflection->FieldSize(referral, field) > 0
                              : reflection->HasField(referral, field);
}

}  // namespace

const std::vector<std::string>& SealedReferralFieldNames() {
  static const auto* const kNames = [] {
    auto* names = new std::vector<std::string>;
    for (const FieldDescriptor* field : SealedReferralFields()) names->push_back(field->name());
    return names;
  }();
  return *kNames;
}

std::vector<std::string> SealedFieldsInClear(const v1::Referral& referral) {
  std::vector<std::string> set;
  for (const FieldDescriptor* field : SealedReferralFields()) {
    if (IsSet(referral, field)) set.push_back(field->name());
  }
  return set;
}

absl::Status SealReferral(v1::Referral& referral, const SecretKey& key, const std::string& nonce) {
  // The same field numbers: the sealed fields' bytes are those of a
  // Referral holding only them.
  v1::Referral only_sealed;
  const auto* reflection = referral.GetReflection();
  std::vector<const FieldDescriptor*> moved;
  for (const FieldDescriptor* field : SealedReferralFields()) {
    if (IsSet(referral, field)) moved.push_back(field);
  }
  reflection->SwapFields(&referral, &only_sealed, moved);
  v1::SealedReferral sealed_fields;
  if (!sealed_fields.ParseFromString(only_sealed.SerializeAsString())) {
    return absl::InternalError("could not move the sealed fields of a referral");
  }
  ASSIGN_OR_RETURN(*referral.mutable_sealed(),
                   Seal(key, kSealedReferralPurpose, referral.referral_id(),
                        sealed_fields.SerializeAsString(), nonce));
  return absl::OkStatus();
}

absl::StatusOr<v1::Referral> OpenReferral(const v1::Referral& referral, const SecretKey& key) {
  ASSIGN_OR_RETURN(std::string plaintext,
                   Open(key, kSealedReferralPurpose, referral.referral_id(), referral.sealed()));
  v1::SealedReferral fields;
  if (!fields.ParseFromString(plaintext)) {
    return absl::InvalidArgumentError("the opened sealed fields do not parse");
  }
  v1::Referral opened = referral;
  opened.clear_sealed();
  if (!opened.MergeFromString(fields.SerializeAsString())) {
    return absl::InternalError("could not merge the opened sealed fields");
  }
  return opened;
}

absl::Status SealStatusText(v1::StatusChange& change, const SecretKey& key) {
  if (change.reason_text().empty()) return absl::OkStatus();
  v1::SealedStatusText text;
  text.set_reason_text(change.reason_text());
  ASSIGN_OR_RETURN(*change.mutable_sealed(),
                   Seal(key, kSealedStatusTextPurpose, change.referral_id(),
                        text.SerializeAsString(), RandomNonce()));
  change.clear_reason_text();
  return absl::OkStatus();
}

absl::StatusOr<std::string> OpenStatusText(const v1::StatusChange& change, const SecretKey& key) {
  if (!change.has_sealed()) return change.reason_text();
  ASSIGN_OR_RETURN(std::string plaintext,
                   Open(key, kSealedStatusTextPurpose, change.referral_id(), change.sealed()));
  v1::SealedStatusText text;
  if (!text.ParseFromString(plaintext)) {
    return absl::InvalidArgumentError("the opened status text does not parse");
  }
  return text.reason_text();
}

}  // namespace mir
