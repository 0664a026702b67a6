#include "broker/node_records.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir::broker {

absl::Status CheckRecordId(absl::string_view field, const std::string& id) {
  if (IsCanonicalUuid(id)) return absl::OkStatus();
  return MirError(
      absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
      absl::StrCat("field ", field, " must be a lowercase UUID (8-4-4-4-12 hex digits)"));
}

absl::StatusOr<std::string> SealRecordPart(const SecretKey& key, absl::string_view purpose,
                                           const std::string& id, const std::string& plain) {
  ASSIGN_OR_RETURN(v1::Sealed sealed, Seal(key, purpose, id, plain, RandomNonce()));
  return sealed.SerializeAsString();
}

absl::Status SealedRecordPartDoesNotParse(absl::string_view what) {
  return MirError(absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED,
                  absl::StrCat("the sealed part of ", what, " does not parse"));
}

absl::Status RecordEventDoesNotParse(absl::string_view what) {
  return MirError(absl::StatusCode::kDataLoss, v1::MALFORMED_BODY,
                  absl::StrCat("an event of ", what, " does not parse"));
}

absl::StatusOr<int> RecordListLimit(int asked, int default_limit, int max_limit) {
  if (asked < 0 || asked > max_limit) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    absl::StrCat("field limit must be between 0 and ", max_limit));
  }
  return asked == 0 ? default_limit : asked;
}

absl::StatusOr<std::string> OpenRecordPart(storage::ReadTxn& txn, const std::string& key_owner,
                                           absl::string_view purpose, const std::string& id,
                                           const std::string& stored, absl::string_view what) {
  v1::Sealed sealed;
  if (!sealed.ParseFromString(stored)) return SealedRecordPartDoesNotParse(what);
  ASSIGN_OR_RETURN(auto key, txn.GetReferralKey(key_owner, sealed.key_id()));
  if (!key.has_value()) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY,
                    absl::StrCat("this node does not hold the key of ", what));
  }
  return Open(*key, purpose, id, sealed);
}

absl::StatusOr<std::string> SignRecordEvent(const Signer& signer, v1::MessageKind kind,
                                            const std::string& node_id, const std::string& id,
                                            uint64_t sequence, absl::Time at,
                                            const std::string& body) {
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(kind);
  header.set_recipient_node(node_id);
  *header.mutable_created_at() = ToProtoTime(at);
  header.set_referral_id(id);
  header.set_sequence(sequence);
  return signer.SignEnvelope(header, body);
}

}  // namespace mir::broker
