#include "client/selfcheck.h"

#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"
#include "mir/v1/referral.pb.h"

namespace mir::client {

absl::Status RunSelfCheck(const std::string& pki_dir, std::ostream& out) {
  ASSIGN_OR_RETURN(auto signer, Signer::FromPemFiles(pki_dir + "/toscana/operator.key",
                                                     pki_dir + "/toscana/operator.crt"));
  ASSIGN_OR_RETURN(auto verifier, Verifier::FromCaPemFile(pki_dir + "/ca.crt", RealClock::Get()));
  out << "loaded key and certificate of " << signer->identity().Uri() << "\n";

  v1::Referral referral;  // fictional: codes only, no person behind them
  referral.set_referral_id(NewUuid());
  referral.set_origin_node("toscana");
  referral.set_destination_node("nvn");
  referral.set_person_code("SELFCHECK");
  referral.set_urgency(v1::URGENCY_EMERGENCY_24H);
  referral.mutable_consent()->set_given(true);

  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::REFERRAL);
  header.set_recipient_node("nvn");
  header.mutable_created_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  header.set_referral_id(referral.referral_id());
  header.set_sequence(1);
  ASSIGN_OR_RETURN(std::string envelope,
                   signer->SignEnvelope(header, referral.SerializeAsString()));
  out << "signed a REFERRAL envelope (" << envelope.size() << " bytes, sha256 "
      << ToHex(Sha256(envelope)).substr(0, 16) << "...)\n";

  ASSIGN_OR_RETURN(VerifiedEnvelope verified, verifier->Verify(envelope));
  out << "verified it against the network CA: author " << verified.author.Uri() << "\n";

  std::string tampered = envelope;
  tampered.back() ^= 0x01;  // the last byte belongs to the signature value
  auto refused = verifier->Verify(tampered);
  if (refused.ok()) return absl::InternalError("a tampered envelope verified");
  out << "a copy with one bit flipped is refused: " << ReasonName(refused.status()) << "\n";
  return absl::OkStatus();
}

}  // namespace mir::client
