#ifndef MIR_BROKER_DEADLINE_WATCHER_H_
#define MIR_BROKER_DEADLINE_WATCHER_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/node.h"

namespace mir::broker {

// Raises the alarm, day or night, for EMERGENCY_24H referrals this node sent
// (Node::IsSendingSide) that were not taken into evaluation by their
// deadline, and says when each alarm clears. Logs ids only. Time comes from
// the node's clock, so tests drive it with a FakeClock and call Check().
// Thread-safe.
class DeadlineWatcher {
 public:
  explicit DeadlineWatcher(Node* node) : node_(node) {}

  // One pass: logs an ALARM for each newly overdue referral and a clearing
  // line for each alarm that no longer applies. Returns the overdue ids.
  std::vector<std::string> Check();
  // How many are overdue now, without logging (the metrics read it).
  absl::StatusOr<int64_t> CountOverdue() const;

 private:
  // Ids of the emergencies overdue now.
  absl::StatusOr<std::vector<std::string>> Overdue() const;

  Node* const node_;
  absl::Mutex mu_;
  std::set<std::string> alarmed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mir::broker

#endif  // MIR_BROKER_DEADLINE_WATCHER_H_
