#ifndef MIR_BROKER_PEER_SENDERS_H_
#define MIR_BROKER_PEER_SENDERS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "broker/sender.h"

namespace mir::broker {

// The node's senders, one per peer. A relay adds one when a newer node
// registry lists a node it could not reach yet (Broker::Reload); none is
// removed before Stop, so a sender found here stays valid until then.
class PeerSenders {
 public:
  // Adds and starts `sender` for `peer`; false (nothing changes) if the
  // peer has one already.
  bool Add(const std::string& peer, std::unique_ptr<PeerSender> sender);
  bool Has(const std::string& peer) const;
  // New work for `peer`: its sender looks at the outbox now.
  void Wake(const std::string& peer) const;
  // Calls `visit` for each peer in name order, under the lock: `visit` must
  // not call back into this object.
  void ForEach(const std::function<void(const std::string&, const PeerSender&)>& visit) const;
  void StartAll();
  void StopAll();
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<PeerSender>> senders_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_PEER_SENDERS_H_
