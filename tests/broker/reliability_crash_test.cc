// The crash harness (RELIABILITY.md): three real mir-broker processes (nvn
// relaying between toscana and lombardia) on loopback mutual TLS, staff
// submitting referrals and status changes through the Referrals API from
// several threads, while a random broker is SIGKILLed every few hundred ms
// and restarted. Then everything drains and every database is checked:
//
//  - every submission acknowledged to a client (Submit returned OK) exists
//    exactly once at its origin and at its destination, byte for byte;
//  - every referral's events are applied in order: each sender's sequence
//    numbers are 1, 2, 3, ... in the timeline, nothing held or dropped;
//  - nothing is pending or dead in any outbox;
//  - every audit chain verifies, quick_check (Store::Open) and
//    integrity_check (raw SQLite) are ok.
//
// Size: MIR_CRASH_KILLS kills (default 10, a CTest run of well under two
// minutes); the long run is
//   MIR_CRASH_KILLS=200 build-rel/tests/broker/broker_reliability_crash_test
// It prints one summary line ("crash harness: ...") and removes its
// databases and logs unless it failed or MIR_KEEP_TEST_DIR is set.

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "crypto/envelope_bytes.h"
#include "storage/store.h"
#include "tests/broker/broker_process.h"
#include "tests/broker/network.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// A submission whose outcome the client cannot know: the call broke off.
bool OutcomeUnknown(const absl::Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
         s.code() == StatusCode::kCancelled || s.code() == StatusCode::kUnknown ||
         s.code() == StatusCode::kInternal || s.code() == StatusCode::kAborted;
}

struct Acked {
  std::string referral_id;
  std::string author_node;
  v1::ReferralState to_state;
  std::vector<std::string> envelopes;  // as signed by the client, one per recipient
};

// What the clients were told, shared by the submitter threads.
class Ledger {
 public:
  void Acknowledged(Acked a) {
    std::lock_guard<std::mutex> lock(mu_);
    acked_.push_back(std::move(a));
  }
  void Unknown() { ++unknown_; }
  void Refused(const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.push_back(s);
  }
  std::vector<Acked> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::vector<absl::Status> refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  int unknown() const { return unknown_.load(); }

 private:
  std::mutex mu_;
  std::vector<Acked> acked_;
  std::vector<absl::Status> refused_;
  std::atomic<int> unknown_{0};
};

// Work left anywhere in `db`: pending outbox entries and held events.
std::string Backlog(const std::string& path) {
  ReadOnlyDb db(path);
  return absl::StrCat(db.Text("SELECT count(*) FROM outbox WHERE state = 0"), "+",
                      db.Text("SELECT count(*) FROM held_events"));
}

class ReliabilityCrashTest : public ::testing::Test {
 protected:
  static constexpr const char* kNodes[] = {"nvn", "toscana", "lombardia"};

  void SetUp() override {
    dir_ = NewTempDir();
    for (const char* node : kNodes) ports_[node] = FreePort();
    for (const char* node : kNodes) {
      broker::BrokerOptions o = NodeOptions(node, ports_[node], dir_);
      if (o.relay) {
        o.peers = {{"toscana", Address(ports_["toscana"])},
                   {"lombardia", Address(ports_["lombardia"])}};
      } else {
        o.peers = {{"nvn", Address(ports_["nvn"])}};
        o.routes = {{"*", "nvn"}};
      }
      o.in_flight_per_peer = 8;
      options_[node] = o;
      WriteConfig(o, Config(node));
      processes_[node] = std::make_unique<BrokerProcess>(Config(node), dir_ + "/" + node + ".log");
    }
  }

  std::string Config(const std::string& node) const { return dir_ + "/" + node + ".json"; }
  std::string Db(const std::string& node) { return options_[node].database_path; }

  // Keeps submitting referrals from `prefix`'s node to `destination` until stopped.
  void SubmitReferrals(const std::string& prefix, const std::string& destination) {
    const std::string node = prefix.substr(0, prefix.find('/'));
    auto client = std::make_unique<StaffClient>(ports_[node], prefix);
    while (!stop_.load()) {
      auto id = client->SubmitReferral(destination);
      if (id.ok()) {
        ledger_.Acknowledged({*id, node, v1::SUBMITTED, client->last_signed()});
        continue;
      }
      Failed(id.status(), client, node, prefix);
    }
  }

  // Keeps moving inbound referrals at `prefix`'s node: RECEIVED to
  // UNDER_EVALUATION, then UNDER_EVALUATION to `last`. One thread per node,
  // so nothing else changes these referrals' sequences meanwhile.
  void ChangeStatuses(const std::vector<std::pair<std::string, v1::ReferralState>>& staff) {
    std::map<std::string, std::unique_ptr<StaffClient>> clients;
    for (const auto& [prefix, last] : staff) {
      const std::string node = prefix.substr(0, prefix.find('/'));
      clients[prefix] = std::make_unique<StaffClient>(ports_[node], prefix);
    }
    while (!stop_.load()) {
      for (const auto& [prefix, last] : staff) {
        const std::string node = prefix.substr(0, prefix.find('/'));
        auto& client = clients[prefix];
        for (auto [from, to] : {std::pair{v1::RECEIVED, v1::UNDER_EVALUATION},
                                std::pair{v1::UNDER_EVALUATION, last}}) {
          v1::ListRequest request;
          request.set_direction(v1::DIRECTION_INBOUND);
          request.add_states(from);
          request.set_limit(4);
          auto listed = client->List(request);
          if (!listed.ok()) {
            Failed(listed.status(), client, node, prefix, /*submission=*/false);
            break;
          }
          for (const v1::ReferralSummary& r : listed->referrals()) {
            if (stop_.load()) return;
            auto changed = client->Transition(r.referral_id(), to);
            if (changed.ok()) {
              ledger_.Acknowledged({r.referral_id(), node, to, client->last_signed()});
            } else {
              Failed(changed.status(), client, node, prefix);
              break;
            }
          }
        }
      }
    }
  }

  void Failed(const absl::Status& s, std::unique_ptr<StaffClient>& client, const std::string& node,
              const std::string& prefix, bool submission = true) {
    if (OutcomeUnknown(s)) {
      if (submission) ledger_.Unknown();
      // The broker went away: a fresh channel reconnects without waiting
      // out gRPC's growing reconnect backoff.
      client = std::make_unique<StaffClient>(ports_[node], prefix);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } else if (submission) {
      ledger_.Refused(s);
    }
  }

  // Waits until no database has pending or held work twice in a row, stops
  // the brokers, and checks again on the quiet files; restarts them if work
  // is left. True once drained.
  bool Drain() {
    for (int round = 0; round < 10; ++round) {
      int clean = 0;
      for (int poll = 0; poll < 240 && clean < 2; ++poll) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        bool empty = true;
        for (const char* node : kNodes) empty = empty && Backlog(Db(node)) == "0+0";
        clean = empty ? clean + 1 : 0;
      }
      for (const char* node : kNodes) {
        EXPECT_EQ(processes_[node]->Kill(SIGTERM), 0) << node << " did not stop cleanly";
      }
      bool empty = true;
      for (const char* node : kNodes) empty = empty && Backlog(Db(node)) == "0+0";
      if (empty) return true;
      for (const char* node : kNodes) EXPECT_TRUE(processes_[node]->Start());
    }
    return false;
  }

  std::string dir_;
  std::map<std::string, int> ports_;
  std::map<std::string, broker::BrokerOptions> options_;
  std::map<std::string, std::unique_ptr<BrokerProcess>> processes_;
  std::atomic<bool> stop_{false};
  Ledger ledger_;
};

TEST_F(ReliabilityCrashTest, ThreeBrokersSigkilledUnderLoadLoseNothingAndApplyInOrder) {
  const int kills = EnvInt("MIR_CRASH_KILLS", 10);
  for (const char* node : kNodes) ASSERT_TRUE(processes_[node]->Start());

  std::vector<std::thread> staff;
  staff.emplace_back([&] { SubmitReferrals("toscana/operator", "lombardia"); });
  staff.emplace_back([&] { SubmitReferrals("lombardia/operator", "toscana"); });
  staff.emplace_back([&] { SubmitReferrals("toscana/operator", "nvn"); });
  staff.emplace_back([&] {
    ChangeStatuses({{"lombardia/operator", v1::REJECTED},
                    {"toscana/operator", v1::REJECTED},
                    {"nvn/operator", v1::CLOSED_NEGATIVE}});
  });

  // A random broker killed every few hundred ms, left down a moment, restarted.
  std::mt19937 rng(std::random_device{}());
  const absl::Time started = absl::Now();
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 450));
    const char* victim = kNodes[rng() % 3];
    const int status = processes_[victim]->Kill(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << victim << " was not running when killed (status " << status << "): see " << dir_ << "/"
        << victim << ".log";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    ASSERT_TRUE(processes_[victim]->Start());
  }
  // A little more load with everyone up, then the staff stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop_ = true;
  for (std::thread& t : staff) t.join();
  const absl::Duration load_time = absl::Now() - started;

  ASSERT_TRUE(Drain()) << "work still pending after the drain; logs in " << dir_;

  // Every file is sound.
  std::map<std::string, std::unique_ptr<KeyEncryptionKey>> keks;  // outlive the stores
  std::map<std::string, std::unique_ptr<storage::Store>> stores;
  for (const char* node : kNodes) {
    SCOPED_TRACE(node);
    {
      ReadOnlyDb raw(Db(node));
      EXPECT_EQ(raw.Text("PRAGMA integrity_check"), "ok");
      EXPECT_EQ(raw.Text("SELECT count(*) FROM dropped_events"), "0");
      EXPECT_EQ(raw.Text("SELECT count(*) FROM outbox WHERE state = 2"), "0")
          << "dead letter: " << raw.Text("SELECT last_error FROM outbox WHERE state = 2");
    }
    auto kek = KeyEncryptionKey::FromFile(PkiPath(absl::StrCat(node, "/kek.hex")));
    ASSERT_OK(kek);
    keks[node] = std::make_unique<KeyEncryptionKey>(*std::move(kek));
    storage::StoreOptions so;
    so.path = Db(node);
    so.kek = keks[node].get();
    auto store = storage::Store::Open(so, RealClock::Get());  // runs quick_check
    ASSERT_OK(store);
    auto chain = (*store)->VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << chain->problem;
    stores[node] = *std::move(store);
  }

  // Each referral's events, at every node that holds it: each sender's
  // sequence numbers 1, 2, 3, ... in application order, each message once.
  int referrals_checked = 0;
  for (const char* node : kNodes) {
    auto all = stores[node]->ListReferrals(0);
    ASSERT_OK(all);
    for (const storage::ReferralRecord& r : *all) {
      auto timeline = stores[node]->Timeline(r.meta.referral_id);
      ASSERT_OK(timeline);
      std::map<std::string, uint64_t> last;
      std::set<std::string> messages;
      for (const storage::Event& e : *timeline) {
        EXPECT_EQ(e.sequence, last[e.sender_node] + 1)
            << "at " << node << ", referral " << r.meta.referral_id << ", sender " << e.sender_node;
        last[e.sender_node] = e.sequence;
        EXPECT_TRUE(messages.insert(e.message_id).second) << e.message_id << " twice at " << node;
      }
      ++referrals_checked;
    }
  }

  // Everything acknowledged to staff is at its author's node and at every
  // recipient, once, with the exact bytes the client signed.
  const std::vector<Acked> acked = ledger_.acked();
  int referrals = 0, changes = 0;
  for (const Acked& a : acked) {
    SCOPED_TRACE(absl::StrCat(v1::ReferralState_Name(a.to_state), " on ", a.referral_id, " by ",
                              a.author_node));
    ASSERT_FALSE(a.envelopes.empty());
    std::vector<std::pair<std::string, std::string>> holders;  // node, envelope there
    holders.emplace_back(a.author_node, a.envelopes.front());
    for (const std::string& envelope : a.envelopes) {
      v1::Envelope parsed;
      v1::EnvelopeHeader header;
      ASSERT_TRUE(parsed.ParseFromString(envelope) && header.ParseFromString(parsed.header()));
      holders.emplace_back(header.recipient_node(), envelope);
    }
    for (const auto& [node, envelope] : holders) {
      auto timeline = stores.at(node)->Timeline(a.referral_id);
      ASSERT_OK(timeline);
      int found = 0;
      for (const storage::Event& e : *timeline) found += e.envelope == envelope;
      EXPECT_EQ(found, 1) << "at " << node;
      if (a.to_state == v1::SUBMITTED) {
        auto record = stores.at(node)->GetReferral(a.referral_id);
        ASSERT_OK(record);
        ASSERT_TRUE(record->has_value()) << "lost at " << node;
        EXPECT_EQ((*record)->referral_envelope, envelope) << "at " << node;
      }
    }
    (a.to_state == v1::SUBMITTED ? referrals : changes)++;
  }
  std::string refusals;
  for (const absl::Status& s : ledger_.refused()) absl::StrAppend(&refusals, "\n  ", s.ToString());
  EXPECT_TRUE(ledger_.refused().empty()) << "submissions refused:" << refusals;
  EXPECT_GT(referrals, 0);

  // The logs name messages and referrals by id, never by their content.
  for (const char* node : kNodes) {
    std::ifstream log(dir_ + "/" + node + ".log");
    std::stringstream text;
    text << log.rdbuf();
    EXPECT_EQ(text.str().find("TEST-PERSON"), std::string::npos) << "person code in " << node;
    EXPECT_EQ(text.str().find("fictional test notes"), std::string::npos) << "notes in " << node;
  }

  std::cout << "crash harness: " << kills << " kills in " << load_time << ", " << referrals
            << " referrals and " << changes << " status changes acknowledged, " << ledger_.unknown()
            << " submissions with unknown outcome, " << referrals_checked
            << " referral copies checked across 3 nodes" << std::endl;
  // A long run leaves about a gigabyte behind; keep it only when it failed.
  stores.clear();
  if (!HasFailure() && std::getenv("MIR_KEEP_TEST_DIR") == nullptr) {
    std::filesystem::remove_all(dir_);
  } else {
    std::cout << "databases and logs kept in " << dir_ << std::endl;
  }
}

}  // namespace
}  // namespace mir::testing
