#include "broker/peer_senders.h"

#include <vector>

namespace mir::broker {

bool PeerSenders::Add(const std::string& peer, std::unique_ptr<PeerSender> sender) {
  absl::MutexLock lock(&mu_);
  if (senders_.count(peer)) return false;
  PeerSender& added = *senders_.emplace(peer, std::move(sender)).first->second;
  if (started_) added.Start();
  return true;
}

bool PeerSenders::Has(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  return senders_.count(peer) > 0;
}

void PeerSenders::Wake(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  if (auto it = senders_.find(peer); it != senders_.end()) it->second->Wake();
}

void PeerSenders::ForEach(
    const std::function<void(const std::string&, const PeerSender&)>& visit) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [peer, sender] : senders_) visit(peer, *sender);
}

void PeerSenders::StartAll() {
  absl::MutexLock lock(&mu_);
  started_ = true;
  for (auto& [peer, sender] : senders_) sender->Start();
}

void PeerSenders::StopAll() {
  // Stop waits for deliveries in flight: not under the lock, which Wake
  // takes. Senders are never removed, so the pointers stay valid.
  std::vector<PeerSender*> running;
  {
    absl::MutexLock lock(&mu_);
    started_ = false;
    for (auto& [peer, sender] : senders_) running.push_back(sender.get());
  }
  for (PeerSender* sender : running) sender->Stop();
}

size_t PeerSenders::size() const {
  absl::MutexLock lock(&mu_);
  return senders_.size();
}

}  // namespace mir::broker
