#include "broker/peer_features.h"

#include "crypto/receipt.h"

namespace mir::broker {

void PeerFeatures::Learn(const std::string& peer, const v1::Receipt& receipt) {
  const bool takes = Announces(receipt, kReceivedAnswersFeature);
  absl::MutexLock lock(&mu_);
  received_answers_[peer] = takes;
}

void PeerFeatures::Forget(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  received_answers_[peer] = false;
}

bool PeerFeatures::TakesReceivedAnswers(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto it = received_answers_.find(peer);
  return it != received_answers_.end() && it->second;
}

}  // namespace mir::broker
