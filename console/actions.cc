#include "console/actions.h"

#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/authorization.h"
#include "client/actions.h"
#include "common/status_macros.h"
#include "console/errors.h"
#include "console/tokens.h"
#include "crypto/envelope_bytes.h"
#include "storage/lifecycle.h"

namespace mir::console {

absl::StatusOr<UnsignedAction> MakeUnsigned(const Session& session,
                                            const v1::PrepareResponse& prepared,
                                            v1::MessageKind kind, const std::string& referral_id,
                                            std::string body, absl::Time now) {
  ASSIGN_OR_RETURN(std::vector<v1::EnvelopeHeader> headers,
                   client::HeadersToSign(prepared, kind, referral_id, now));
  UnsignedAction action;
  action.session_id = session.id;
  action.kind = kind;
  action.referral_id = referral_id;
  action.body = std::move(body);
  for (v1::EnvelopeHeader& header : headers) {
    header.set_author(session.person.Uri());
    header.set_sender_node(session.person.node);
    std::string bytes;
    if (!header.SerializeToString(&bytes)) {
      return absl::InternalError("cannot serialize an envelope header");
    }
    action.headers.push_back(std::move(bytes));
  }
  return action;
}

std::vector<std::string> BytesToSign(const UnsignedAction& action) {
  std::vector<std::string> out;
  for (const std::string& header : action.headers) {
    out.push_back(absl::Base64Escape(SignedBytes(header, action.body)));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SignedEnvelopes(
    const UnsignedAction& action, const std::string& certificate_der,
    const std::vector<std::string>& signatures) {
  if (signatures.size() != action.headers.size()) {
    return ConsoleError(
        absl::StatusCode::kInvalidArgument, kMalformed,
        absl::StrCat("expected ", action.headers.size(), " signatures, got ", signatures.size()),
        "signatures");
  }
  std::vector<std::string> envelopes;
  for (size_t i = 0; i < signatures.size(); ++i) {
    std::string value;
    if (!absl::Base64Unescape(signatures[i], &value) || value.size() != 64) {
      return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                          "each signature must be 64 bytes in base64", "signatures");
    }
    v1::Envelope envelope;
    envelope.set_header(action.headers[i]);
    envelope.set_body(action.body);
    envelope.mutable_signature()->set_algorithm(v1::ED25519);
    envelope.mutable_signature()->set_certificate(certificate_der);
    envelope.mutable_signature()->set_value(std::move(value));
    envelopes.push_back(envelope.SerializeAsString());
  }
  return envelopes;
}

PendingActions::PendingActions(const Clock* clock, absl::Duration ttl, size_t max_pending)
    : clock_(clock), ttl_(ttl), max_pending_(max_pending) {}

std::string PendingActions::Add(UnsignedAction action) {
  const std::string token = RandomToken();
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.at >= ttl_) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (pending_.size() >= max_pending_) {
    auto oldest = pending_.begin();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->second.at < oldest->second.at) oldest = it;
    }
    pending_.erase(oldest);
  }
  pending_[Sha256(token)] = Entry{std::move(action), now};
  return token;
}

absl::StatusOr<UnsignedAction> PendingActions::Take(absl::string_view token,
                                                    const std::string& session_id) {
  const absl::Status unknown =
      ConsoleError(absl::StatusCode::kInvalidArgument, kTokenUnknown,
                   "this action was not prepared in this session, was submitted already or is "
                   "older than 5 minutes: prepare it again",
                   "token");
  if (token.empty()) return unknown;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(Sha256(token));
  if (it == pending_.end()) return unknown;
  if (!SameToken(it->second.action.session_id, session_id)) return unknown;
  const bool fresh = now - it->second.at < ttl_;
  UnsignedAction action = std::move(it->second.action);
  pending_.erase(it);
  if (!fresh) return unknown;
  return action;
}

void PendingActions::EndSession(const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.action.session_id == session_id) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t PendingActions::size() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

namespace {

template <typename Enum>
std::vector<std::string> ReasonNames(const google::protobuf::EnumDescriptor* descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() == 0) continue;
    names.push_back(descriptor->value(i)->name());
  }
  return names;
}

std::string JsonList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) quoted.push_back(JsonString(item));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

}  // namespace

std::vector<std::string> RouteOnCandidates(const v1::ReferralView& view,
                                           const v1::NodeStatus& status,
                                           const std::string& national_node) {
  std::set<std::string> had_it = {view.summary().origin_node(), view.summary().destination_node(),
                                  national_node};
  for (const v1::TimelineEvent& event : view.timeline()) had_it.insert(event.sender_node());
  std::set<std::string> candidates;
  for (const v1::PeerStatus& peer : status.peers()) {
    if (had_it.count(peer.peer()) == 0) candidates.insert(peer.peer());
  }
  return {candidates.begin(), candidates.end()};
}

std::string AllowedActionsJson(const v1::ReferralSummary& summary, const Identity& person,
                               const std::string& national_node,
                               const std::function<std::vector<std::string>()>& destinations) {
  storage::ReferralRecord record;
  record.meta.referral_id = summary.referral_id();
  record.meta.origin_node = summary.origin_node();
  record.meta.destination_node = summary.destination_node();
  record.meta.urgency = summary.urgency();
  record.state = summary.state();
  const broker::Authorization authorization(person.node, national_node, {});
  std::vector<std::string> actions;
  const google::protobuf::EnumDescriptor* states = v1::ReferralState_descriptor();
  for (int i = 0; i < states->value_count(); ++i) {
    const auto to = static_cast<v1::ReferralState>(states->value(i)->number());
    if (to == v1::REFERRAL_STATE_UNSPECIFIED || to == v1::RECEIVED) continue;
    storage::Event event;
    event.referral_id = summary.referral_id();
    event.sender_node = person.node;
    event.to_state = to;
    event.actor = person;
    bool forward = false;
    if (to == v1::SUBMITTED) {
      // Routing on: a new destination (any other node will do for the check).
      if (!authorization.Check(person, broker::Action::kRouteOn).ok()) continue;
      storage::ReferralMeta meta = record.meta;
      static const std::string kOther[] = {"a", "b"};
      meta.destination_node = kOther[record.meta.destination_node == kOther[0] ? 1 : 0];
      event.referral = meta;
      forward = true;
    }
    if (!storage::CheckTransition(&record, event, national_node).ok()) continue;
    const bool confirmation = to == v1::PLACEMENT_CONFIRMED;
    std::vector<std::string> reasons;
    std::vector<std::string> fields;
    switch (to) {
      case v1::REJECTED:
        reasons = ReasonNames<v1::RejectionReason>(v1::RejectionReason_descriptor());
        fields = {"rejectionReason"};
        break;
      case v1::CLOSED_NEGATIVE:
        reasons = ReasonNames<v1::ClosureReason>(v1::ClosureReason_descriptor());
        fields = {"closureReason"};
        break;
      case v1::WITHDRAWN:
        reasons = ReasonNames<v1::WithdrawalReason>(v1::WithdrawalReason_descriptor());
        fields = {"withdrawalReason"};
        break;
      case v1::PLACEMENT_PROPOSED:
        fields = {"placement.projectRef", "placement.availableFrom"};
        break;
      case v1::TRANSFER_SCHEDULED:
        fields = {"transferDate"};
        break;
      case v1::PLACEMENT_CONFIRMED:
        fields = {"projectRef", "takenInChargeAt"};
        break;
      default:
        break;
    }
    actions.push_back(absl::StrCat(
        "{\"kind\": ", JsonString(confirmation ? "PLACEMENT_CONFIRMATION" : "STATUS_CHANGE"),
        ", \"toState\": ", JsonString(v1::ReferralState_Name(to)),
        ", \"reasons\": ", JsonList(reasons), ", \"freeText\": ", confirmation ? "false" : "true",
        ", \"fields\": ", JsonList(fields), ", \"destinationNode\": ", forward ? "true" : "false",
        forward ? absl::StrCat(", \"destinations\": ",
                               JsonList(destinations ? destinations() : std::vector<std::string>()))
                : "",
        "}"));
  }
  return absl::StrCat("[", absl::StrJoin(actions, ", "), "]");
}

}  // namespace mir::console
