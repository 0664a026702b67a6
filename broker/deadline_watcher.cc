#include "broker/deadline_watcher.h"

#include "absl/time/time.h"
#include "common/log.h"

namespace mir::broker {

std::vector<std::string> DeadlineWatcher::Check() {
  // Only an emergency still SUBMITTED or RECEIVED can be overdue (IsOverdue).
  auto referrals = node_->store().EmergenciesAwaitingAck();
  if (!referrals.ok()) {
    MIR_LOG(ERROR) << "deadline check could not read referrals: " << referrals.status().message();
    return {};
  }
  std::set<std::string> overdue;
  std::vector<std::string> out;
  for (const storage::ReferralRecord& r : *referrals) {
    if (!node_->IsSendingSide(r) || !node_->IsOverdue(r)) continue;
    overdue.insert(r.meta.referral_id);
    out.push_back(r.meta.referral_id);
  }
  absl::MutexLock lock(&mu_);
  for (const std::string& id : overdue) {
    if (alarmed_.insert(id).second) {
      MIR_LOG(ERROR) << "ALARM: emergency referral " << id
                     << " has not been taken into evaluation by its deadline";
    }
  }
  for (auto it = alarmed_.begin(); it != alarmed_.end();) {
    if (overdue.count(*it) == 0) {
      MIR_LOG(INFO) << "alarm cleared: emergency referral " << *it << " is no longer overdue";
      it = alarmed_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace mir::broker
