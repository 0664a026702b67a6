#ifndef MIR_BROKER_PEER_FEATURES_H_
#define MIR_BROKER_PEER_FEATURES_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "mir/v1/envelope.pb.h"

namespace mir::broker {

// What each peer node's last verified receipt announced (Receipt.features,
// PROTOCOL.md §5): whether this node may send it RECEIVED_ANSWERS (§10.8).
// A peer not heard from takes single answers. Thread-safe.
class PeerFeatures {
 public:
  // `receipt` was signed by `peer` and verified.
  void Learn(const std::string& peer, const v1::Receipt& receipt);
  // `peer` refused the kind (rolled back to an older release): single
  // answers until a receipt announces the feature again.
  void Forget(const std::string& peer);
  bool TakesReceivedAnswers(const std::string& peer) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, bool> received_answers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mir::broker

#endif  // MIR_BROKER_PEER_FEATURES_H_
