#ifndef MIR_TESTS_BROKER_STAFF_CLIENT_H_
#define MIR_TESTS_BROKER_STAFF_CLIENT_H_

// A minimal Referrals client for tests: a person's certificate from the test
// PKI, Prepare -> sign -> Submit.

#include <memory>
#include <string>
#include <vector>

#include "crypto/signer.h"
#include "mir/v1/referrals.grpc.pb.h"
#include "tests/broker/network.h"

namespace mir::testing {

class StaffClient {
 public:
  // `prefix`: PKI path of the person, e.g. "toscana/operator".
  StaffClient(int port, const std::string& prefix);

  const Identity& identity() const { return signer_->identity(); }
  v1::Referrals::Stub& stub() { return *stub_; }

  // A fictional referral to `destination`; returns its id.
  absl::StatusOr<std::string> SubmitReferral(const std::string& destination,
                                             v1::Urgency urgency = v1::URGENCY_ORDINARY,
                                             bool consent = true,
                                             std::optional<absl::Time> ack_deadline = std::nullopt,
                                             const std::string& person_code = "TEST-PERSON",
                                             const std::string& notes = "fictional test notes");
  // A status change to `to` (for PLACEMENT_CONFIRMED: a placement
  // confirmation); `forward_to` routes the referral on (national node).
  absl::StatusOr<v1::SubmitResponse> Transition(const std::string& referral_id,
                                                v1::ReferralState to,
                                                const std::string& forward_to = "");
  // A status change to `fields.to_state()` with `fields`' reasons and text
  // over the node's template; the text is sealed when the node gives the key.
  absl::StatusOr<v1::SubmitResponse> Change(const std::string& referral_id,
                                            const v1::StatusChange& fields);
  absl::StatusOr<v1::EraseResponse> Erase(const std::string& referral_id,
                                          const std::string& reason);
  absl::StatusOr<v1::LegalHoldResponse> Hold(const std::string& referral_id, bool held,
                                             const std::string& reason = "");
  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request);
  absl::StatusOr<v1::ReferralView> Get(const std::string& referral_id);
  absl::Status Circulate(const std::string& referral_id, const std::string& partner_uri);

  // The envelopes signed for the most recent Submit call (one per
  // recipient), whatever its outcome.
  const std::vector<std::string>& last_signed() const { return last_signed_; }

 private:
  absl::StatusOr<v1::SubmitResponse> SignAndSubmit(const v1::PrepareResponse& prepared,
                                                   const std::string& body,
                                                   const std::string& referral_key = {});

  std::unique_ptr<Signer> signer_;
  std::unique_ptr<v1::Referrals::Stub> stub_;
  std::vector<std::string> last_signed_;
};

}  // namespace mir::testing

#endif  // MIR_TESTS_BROKER_STAFF_CLIENT_H_
