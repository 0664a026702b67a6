#include "broker/deadline_watcher.h"

#include "absl/time/time.h"
#include "common/log.h"

namespace mir::broker {

absl::StatusOr<std::vector<std::string>> DeadlineWatcher::Overdue() const {
  // Only an emergency still SUBMITTED or RECEIVED can be overdue (IsOverdue).
  auto referrals = node_->store().EmergenciesAwaitingAck();
  if (!referrals.ok()) return referrals.status();
  std::vector<std::string> out;
  for (const storage::ReferralRecord& r : *referrals) {
    if (node_->IsSendingSide(r) && node_->IsOverdue(r)) out.push_back(r.meta.referral_id);
  }
  return out;
}

absl::StatusOr<int64_t> DeadlineWatcher::CountOverdue() const {
  auto overdue = Overdue();
  if (!overdue.ok()) return overdue.status();
  return static_cast<int64_t>(overdue->size());
}

std::vector<std::string> DeadlineWatcher::Check() {
  auto found = Overdue();
  if (!found.ok()) {
    MIR_LOG(ERROR) << "deadline check could not read referrals: " << found.status().message();
    return {};
  }
  std::vector<std::string> out = *std::move(found);
  const std::set<std::string> overdue(out.begin(), out.end());
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
