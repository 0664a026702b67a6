#include "broker/authorization.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/log.h"
#include "crypto/console_login.h"
#include "crypto/envelope_bytes.h"
#include "mir/v1/console.pb.h"

namespace mir::broker {
namespace {

enum class Audience {
  kNodes,          // any node of the network
  kOwnStaff,       // this node's operators and partners
  kOwnOperators,   // this node's operators
  kNationalStaff,  // the national node's operators, at the national node
  kOwnConsole,     // this node's console, by itself
};

// The table of authorization.h, as data.
Audience AudienceOf(Action action) {
  switch (action) {
    case Action::kDeliver:
      return Audience::kNodes;
    case Action::kList:
    case Action::kGet:
    case Action::kWatch:
    case Action::kPrepare:
    case Action::kSubmit:
      return Audience::kOwnStaff;
    case Action::kCirculate:
    case Action::kListDeadLetters:
    case Action::kRequeue:
    case Action::kErase:
    case Action::kLegalHold:
    case Action::kNodeStatus:
    case Action::kStatistics:
    case Action::kReports:
    case Action::kServiceRequests:
      return Audience::kOwnOperators;
    case Action::kPublicReport:
      return Audience::kOwnConsole;
    case Action::kRouteOn:
      return Audience::kNationalStaff;
  }
  return Audience::kOwnOperators;
}

absl::Status Denied(v1::ErrorReason reason, absl::string_view message) {
  return MirError(absl::StatusCode::kPermissionDenied, reason, message);
}

// A serialized proof larger than this is refused unparsed (a statement is at
// most 1 KiB, a certificate a few hundred bytes).
constexpr size_t kMaxConsoleProofBytes = 8 * 1024;

absl::Status ProofRefused(absl::string_view why) {
  return Denied(v1::CONSOLE_PROOF, absl::StrCat("console call refused: ", why));
}

}  // namespace

// Verified proofs by SHA-256 of their bytes.
class ConsoleProofCache {
 public:
  struct Entry {
    Identity person;
    std::string certificate;  // DER, re-checked on every use
    absl::Time issued_at;
  };

  std::optional<Entry> Find(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  void Add(const std::string& key, Entry entry, absl::Time now, absl::Duration max_age) {
    absl::MutexLock lock(&mu_);
    if (entries_.size() >= Authorization::kConsoleProofCacheEntries) {
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.issued_at < now - max_age) {
          entries_.erase(it++);
        } else {
          ++it;
        }
      }
      // Still full of live proofs: start again; each costs one more check.
      if (entries_.size() >= Authorization::kConsoleProofCacheEntries) entries_.clear();
    }
    entries_.insert_or_assign(key, std::move(entry));
  }

  void Remove(const std::string& key) {
    absl::MutexLock lock(&mu_);
    entries_.erase(key);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

Authorization::Authorization(std::string node_id, std::string national_node,
                             std::vector<std::string> relays)
    : node_id_(std::move(node_id)),
      national_node_(std::move(national_node)),
      relays_(std::move(relays)),
      console_proofs_(std::make_shared<ConsoleProofCache>()) {}

const char* ActionName(Action action) {
  switch (action) {
    case Action::kDeliver:
      return "Deliver";
    case Action::kList:
      return "List";
    case Action::kGet:
      return "Get";
    case Action::kWatch:
      return "Watch";
    case Action::kPrepare:
      return "Prepare";
    case Action::kSubmit:
      return "Submit";
    case Action::kCirculate:
      return "Circulate";
    case Action::kListDeadLetters:
      return "ListDeadLetters";
    case Action::kRequeue:
      return "Requeue";
    case Action::kErase:
      return "Erase";
    case Action::kLegalHold:
      return "SetLegalHold";
    case Action::kNodeStatus:
      return "GetNodeStatus";
    case Action::kStatistics:
      return "GetStatistics";
    case Action::kReports:
      return "Reports";
    case Action::kPublicReport:
      return "PublicReport";
    case Action::kServiceRequests:
      return "ServiceRequests";
    case Action::kRouteOn:
      return "RouteOn";
  }
  return "?";
}

absl::Status Authorization::Check(const Identity& caller, Action action) const {
  const Audience audience = AudienceOf(action);
  if (audience == Audience::kNodes) {
    if (caller.role == Role::kNode) return absl::OkStatus();
    return Denied(v1::PEER_MISMATCH,
                  absl::StrCat(caller.Uri(), " is not a node: only nodes deliver envelopes"));
  }
  if (audience == Audience::kNationalStaff) {
    if (caller.role == Role::kOperator && caller.node == national_node_ &&
        node_id_ == national_node_) {
      return absl::OkStatus();
    }
    return Denied(v1::ROLE_NOT_ALLOWED,
                  absl::StrCat("only operators of the national node ", national_node_,
                               " route a referral on to another node"));
  }
  if (caller.node != node_id_ || caller.role == Role::kNode) {
    return Denied(v1::IDENTITY_MISMATCH,
                  absl::StrCat("node ", node_id_, " serves its own operators and partners, not ",
                               caller.Uri()));
  }
  if (audience == Audience::kOwnConsole) {
    if (caller.role == Role::kConsole) return absl::OkStatus();
    return Denied(v1::ROLE_NOT_ALLOWED,
                  "only the node's console takes reports from its public form");
  }
  if (caller.role == Role::kConsole) {
    return ProofRefused(absl::StrCat(caller.Uri(),
                                     " acts only for a person signed in through it "
                                     "(PROTOCOL.md §13)"));
  }
  if (audience == Audience::kOwnOperators && caller.role != Role::kOperator) {
    return Denied(v1::ROLE_NOT_ALLOWED, "only operators may do this");
  }
  return absl::OkStatus();
}

absl::Status Authorization::ReferralAccess(const Identity& caller, const std::string& referral_id,
                                           bool circulated_to_caller) const {
  if (caller.role != Role::kPartner || circulated_to_caller) return absl::OkStatus();
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                  absl::StrCat("referral ", referral_id, " is not known to you at this node"));
}

absl::Status Authorization::DeliveredBy(const Identity& peer,
                                        const std::string& sender_node) const {
  if (peer.node == sender_node ||
      std::find(relays_.begin(), relays_.end(), peer.node) != relays_.end()) {
    return absl::OkStatus();
  }
  return Denied(
      v1::PEER_MISMATCH,
      absl::StrCat("node ", peer.node, " may not deliver envelopes sent by ", sender_node));
}

absl::StatusOr<ConsoleCaller> Authorization::ConsolePerson(
    const Identity& console, const std::vector<absl::string_view>& proofs, const Verifier& verifier,
    absl::Time now, absl::Duration max_age) const {
  if (console.role != Role::kConsole || console.node != node_id_) {
    return Denied(v1::IDENTITY_MISMATCH,
                  absl::StrCat(console.Uri(), " is not the console of node ", node_id_));
  }
  if (proofs.size() != 1) {
    return ProofRefused(proofs.empty() ? "it carries no sign-in proof (mir-console-login-bin)"
                                       : "it carries more than one sign-in proof");
  }
  const absl::string_view bytes = proofs.front();
  if (bytes.size() > kMaxConsoleProofBytes) return ProofRefused("the sign-in proof is too large");
  const std::string key = Sha256(bytes);
  if (auto hit = console_proofs_->Find(key); hit.has_value()) {
    if (hit->issued_at < now - max_age) {
      console_proofs_->Remove(key);
      return ProofRefused("the sign-in is older than the allowed age: sign in again");
    }
    // Cheap (the Verifier caches the chain), and catches a certificate that
    // expired or a CRL loaded since the proof was first checked.
    auto still = verifier.VerifyCertificate(hit->certificate, now);
    if (!still.ok()) {
      console_proofs_->Remove(key);
      return ProofRefused(
          absl::StrCat("(", ReasonName(still.status()), ") ", still.status().message()));
    }
    return ConsoleCaller{hit->person, hit->issued_at + max_age, hit->certificate};
  }
  v1::ConsoleLoginProof proof;
  if (!proof.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return ProofRefused("the sign-in proof does not parse");
  }
  auto verified = VerifyConsoleLogin(verifier, proof, {node_id_, now, max_age});
  if (!verified.ok()) {
    MIR_LOG(INFO) << console.Uri() << ": sign-in proof refused (" << ReasonName(verified.status())
                  << ")";
    return ProofRefused(
        absl::StrCat("(", ReasonName(verified.status()), ") ", verified.status().message()));
  }
  MIR_LOG(INFO) << console.Uri() << " acts for " << verified->person.Uri() << " (signed in at "
                << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", verified->statement.issued_at,
                                    absl::UTCTimeZone())
                << ")";
  const absl::Time issued_at = verified->statement.issued_at;
  console_proofs_->Add(key, {verified->person, proof.certificate(), issued_at}, now, max_age);
  return ConsoleCaller{std::move(verified->person), issued_at + max_age, proof.certificate()};
}

}  // namespace mir::broker
