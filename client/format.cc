#include "client/format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/values.h"
#include "google/protobuf/util/json_util.h"

namespace mir::client {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string StripRight(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, StripRight(line), "\n");
  }
  return out;
}

std::string ToJson(const Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}\n";
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

std::string Direction(const v1::ReferralSummary& summary, const std::string& own_node) {
  if (own_node.empty()) return "";
  if (summary.origin_node() == own_node) return "out";
  if (summary.destination_node() == own_node) return "in";
  return "via";
}

namespace {
std::string AckCell(const v1::ReferralSummary& s) {
  if (!s.has_ack_deadline()) return "-";
  return s.overdue() ? FormatMinute(s.ack_deadline()) + " OVERDUE" : FormatMinute(s.ack_deadline());
}
}  // namespace

std::string FormatSummaries(const v1::ListResponse& list, const std::string& own_node) {
  if (list.referrals().empty()) return "no referrals match\n";
  Table table(
      {"ID", "DIR", "URGENCY", "STATE", "ORIGIN", "DESTINATION", "UPDATED", "ACK DEADLINE"});
  size_t overdue = 0;
  for (const v1::ReferralSummary& s : list.referrals()) {
    table.AddRow({s.referral_id(), Direction(s, own_node), ShortName(s.urgency()),
                  ShortName(s.state()), s.origin_node(), s.destination_node(),
                  FormatMinute(s.updated_at()), AckCell(s)});
    if (s.overdue()) ++overdue;
  }
  std::string out = table.Render();
  absl::StrAppend(&out, Plural(list.referrals_size(), "referral", "referrals"));
  if (overdue > 0) absl::StrAppend(&out, ", ", overdue, " OVERDUE for acknowledgement");
  out.push_back('\n');
  return out;
}

std::string FormatDeliveryProof(const v1::DeliveryProof& p) {
  const std::string error =
      p.last_error().empty() ? "" : absl::StrCat(" (last error: ", p.last_error(), ")");
  switch (p.status()) {
    case v1::DeliveryProof::DELIVERED:
      return absl::StrCat("delivered to ", p.peer_node(), ", receipt verified at ",
                          FormatSecond(p.at()));
    case v1::DeliveryProof::PENDING:
      return absl::StrCat("pending: queued for ", p.peer_node(), ", not yet receipted", error);
    case v1::DeliveryProof::DEAD_LETTER:
      return absl::StrCat("dead letter: not delivered to ", p.peer_node(), ", retries given up",
                          p.last_error().empty() ? "" : absl::StrCat(": ", p.last_error()));
    case v1::DeliveryProof::REPLACED:
      return absl::StrCat("replaced: ", p.peer_node(),
                          " refused this envelope's kind; what it carried went again on its own",
                          p.last_error().empty() ? "" : absl::StrCat(": ", p.last_error()));
    case v1::DeliveryProof::RECEIVED_HERE:
      return absl::StrCat("received here", p.peer_node().empty() ? "" : " from " + p.peer_node(),
                          " at ", FormatSecond(p.at()), ", receipt given");
    default:
      return "delivery status unknown";
  }
}

std::string FormatTimeline(const google::protobuf::RepeatedPtrField<v1::TimelineEvent>& timeline) {
  if (timeline.empty()) return "  (no events)\n";
  size_t width = 0;
  for (const v1::TimelineEvent& e : timeline) width = std::max(width, ShortName(e.state()).size());
  std::string out;
  for (const v1::TimelineEvent& e : timeline) {
    const std::string state = ShortName(e.state());
    absl::StrAppend(&out, "  ", FormatSecond(e.at()), "  ", state,
                    std::string(width - state.size(), ' '), "  by ", e.actor(), " at ",
                    e.sender_node(), " (#", e.sequence(), ")");
    if (!e.reason().empty()) absl::StrAppend(&out, "  reason: ", e.reason());
    out.push_back('\n');
    for (const v1::DeliveryProof& proof : e.delivery()) {
      absl::StrAppend(&out, "        delivery: ", FormatDeliveryProof(proof), "\n");
    }
  }
  return out;
}

namespace {

std::string Label(const std::string& prefix, const FieldDescriptor* f) {
  return absl::StrReplaceAll(prefix + f->name(), {{"_", " "}});
}

std::string ScalarText(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM:
      return ShortEnumName(f->enum_type(),
                           rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "yes" : "no";
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    default:
      return "(set)";
  }
}

void AppendFields(const Message& m, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      const Message& sub = r->GetMessage(m, f);
      if (sub.GetDescriptor()->full_name() == "google.protobuf.Timestamp") {
        out.emplace_back(Label(prefix, f),
                         FormatSecond(static_cast<const google::protobuf::Timestamp&>(sub)));
      } else {
        AppendFields(sub, Label(prefix, f) + " ", out);
      }
      continue;
    }
    std::vector<std::string> values;
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) values.push_back(ScalarText(m, f, i));
    out.emplace_back(Label(prefix, f), absl::StrJoin(values, ", "));
  }
}

// "  label   value" lines; continuation lines of a multi-line value indented.
std::string Aligned(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [label, value] : rows) width = std::max(width, label.size());
  std::string out;
  for (const auto& [label, value] : rows) {
    const std::string indent(width + 4, ' ');
    absl::StrAppend(&out, "  ", label, std::string(width - label.size() + 2, ' '),
                    absl::StrReplaceAll(value, {{"\n", "\n" + indent}}), "\n");
  }
  return out;
}

}  // namespace

std::string FormatReferralFields(const v1::Referral& referral) {
  v1::Referral rest = referral;  // what the summary already shows is not repeated
  rest.clear_referral_id();
  rest.clear_origin_node();
  rest.clear_destination_node();
  rest.clear_urgency();
  rest.clear_ack_deadline();
  rest.clear_sealed();  // ciphertext: its state is said apart (FormatPrivacy)
  std::vector<std::pair<std::string, std::string>> rows;
  AppendFields(rest, "", rows);
  return rows.empty() ? "  (no fields visible to you)\n" : Aligned(rows);
}

std::string FormatPrivacy(const v1::ReferralView& view) {
  std::string out;
  switch (view.sealed_state()) {
    case v1::SEALED_KEY_ON_ITS_WAY:
      out =
          "\nSealed fields: not here yet. The origin's node sends their key once it learns that "
          "this node cares for the person; they appear by themselves.\n";
      break;
    case v1::SEALED_NOT_FOR_THIS_NODE:
      out =
          "\nSealed fields: not readable here. This node routes or relays the referral; only "
          "the origin and the destination read them.\n";
      break;
    case v1::SEALED_ERASED:
      out = "\nSealed fields: erased at this node.\n";
      break;
    default:
      break;
  }
  if (view.has_erasure()) {
    const v1::Erasure& e = view.erasure();
    absl::StrAppend(&out, "Erased ", FormatMinute(e.at()), " (", ShortName(e.cause()), ") by ",
                    e.by(), e.reason().empty() ? "" : absl::StrCat(": ", e.reason()), "\n");
  }
  if (view.legal_hold().held()) {
    const v1::LegalHold& h = view.legal_hold();
    absl::StrAppend(&out, "Legal hold since ", FormatMinute(h.since()), " by ", h.by(), ": ",
                    h.reason(), " (no erasure until it is lifted)\n");
  }
  for (const v1::ErasureAnswer& a : view.erasure_answers()) {
    absl::StrAppend(
        &out, "Purge order: ", a.node(),
        a.outcome() == v1::ERASURE_DONE ? " erased its copy " : " holds it (legal hold) ",
        FormatMinute(a.at()), "\n");
  }
  return out;
}

std::string FormatView(const v1::ReferralView& view, const std::string& own_node) {
  const v1::ReferralSummary& s = view.summary();
  std::vector<std::pair<std::string, std::string>> rows = {
      {"state", ShortName(s.state())},
      {"urgency", ShortName(s.urgency())},
      {"origin", s.origin_node()},
      {"destination", s.destination_node()},
      {"direction", Direction(s, own_node)},
      {"created", FormatMinute(s.created_at())},
      {"updated", FormatMinute(s.updated_at())},
  };
  if (own_node.empty()) rows.erase(rows.begin() + 4);
  if (s.has_ack_deadline()) rows.insert(rows.begin() + 2, {"ack deadline", AckCell(s)});
  std::string out = absl::StrCat("Referral ", s.referral_id(), "\n", Aligned(rows));
  absl::StrAppend(&out, "\nFields\n", FormatReferralFields(view.referral()));
  absl::StrAppend(&out, FormatPrivacy(view));
  absl::StrAppend(&out,
                  "\nTimeline (what happened; indented \"delivery:\" lines are transport "
                  "proofs, not answers)\n",
                  FormatTimeline(view.timeline()));
  return out;
}

std::string FormatWatchEvent(const v1::WatchEvent& w) {
  const v1::ReferralSummary& s = w.referral();
  const v1::TimelineEvent& e = w.event();
  std::string line = absl::StrCat(
      FormatSecond(e.at()), "  ", s.referral_id(), "  ", ShortName(s.urgency()), "  ",
      s.origin_node(), " -> ", s.destination_node(), "  ", ShortName(e.state()), " by ", e.actor());
  if (!e.reason().empty()) absl::StrAppend(&line, "  reason: ", e.reason());
  if (s.overdue()) absl::StrAppend(&line, "  OVERDUE");
  return line + "\n";
}

std::string FormatDeadLetters(const v1::ListDeadLettersResponse& response) {
  if (response.dead_letters().empty()) {
    return "no dead letters: every message was delivered or is still being retried\n";
  }
  Table table({"MESSAGE", "REFERRAL", "PEER", "ATTEMPTS", "QUEUED", "LAST ERROR"});
  for (const v1::DeadLetter& d : response.dead_letters()) {
    table.AddRow({d.message_id(), d.referral_id(), d.peer_node(), absl::StrCat(d.attempts()),
                  FormatMinute(d.enqueued_at()), d.last_error()});
  }
  return absl::StrCat(table.Render(),
                      Plural(response.dead_letters_size(), "dead letter", "dead letters"),
                      " (retry with 'mirctl requeue MESSAGE' or 'mirctl requeue --all')\n");
}

namespace {

// "3d 4h", "12m", "40s": how long, at a glance.
std::string Age(int64_t seconds) {
  if (seconds < 0) return absl::StrCat("-", Age(-seconds));
  if (seconds >= 86400) return absl::StrCat(seconds / 86400, "d ", (seconds % 86400) / 3600, "h");
  if (seconds >= 3600) return absl::StrCat(seconds / 3600, "h ", (seconds % 3600) / 60, "m");
  if (seconds >= 60) return absl::StrCat(seconds / 60, "m");
  return absl::StrCat(seconds, "s");
}

}  // namespace

std::string FormatNodeStatus(const v1::NodeStatus& status) {
  std::string out =
      absl::StrCat("Node ", status.node_id(), " at ", FormatMinute(status.at()), "\n");
  if (status.store_failed()) {
    absl::StrAppend(&out,
                    "STORE FAILED: the node refuses every change until it is restarted "
                    "(docs/STORAGE.md)\n");
  }
  if (status.emergencies_overdue() > 0) {
    absl::StrAppend(
        &out, "ALARM: ",
        Plural(status.emergencies_overdue(), "emergency referral", "emergency referrals"),
        " past the acknowledgement deadline ('mirctl list --overdue')\n");
  }
  Table peers({"PEER", "REACHABLE", "PENDING", "OLDEST", "DEAD LETTERS", "DELIVERED"});
  for (const v1::PeerStatus& p : status.peers()) {
    std::string reachable = p.reachable() ? "yes" : "NO";
    // For how long: since the last change, or since the node started.
    if (p.has_reachability_since() && status.has_at()) {
      absl::StrAppend(&reachable, ", for ",
                      Age(status.at().seconds() - p.reachability_since().seconds()));
    }
    peers.AddRow({p.peer(), reachable, absl::StrCat(p.pending()),
                  p.pending() == 0 ? "-" : Age(static_cast<int64_t>(p.oldest_pending_s())),
                  absl::StrCat(p.dead_letters()), absl::StrCat(p.delivered())});
  }
  absl::StrAppend(&out, "\n", peers.Render());
  if (status.held_size() > 0) {
    // Rare: a message overtook an earlier one that has not come yet.
    Table held({"WAITING FROM", "EARLY MESSAGES", "OLDEST"});
    for (const v1::HeldMessages& h : status.held()) {
      held.AddRow({h.node(), absl::StrCat(h.count()), Age(static_cast<int64_t>(h.oldest_s()))});
    }
    absl::StrAppend(&out, "\n", held.Render(),
                    "Early messages wait for the earlier ones of the same node; one waiting for "
                    "hours means an earlier one was lost: ask that node (docs/OPERATIONS.md)\n");
  }
  Table certificates({"CERTIFICATE", "EXPIRES IN"});
  for (const v1::CertificateExpiry& c : status.certificates()) {
    const int64_t left = c.seconds_left();
    certificates.AddRow({c.subject(), left < 0            ? "EXPIRED"
                                      : left < 30 * 86400 ? Age(left) + " (renew it)"
                                                          : Age(left)});
  }
  absl::StrAppend(&out, "\n", certificates.Render());
  return out;
}

std::string FormatSubmitted(const v1::SubmitResponse& response, const std::string& headline) {
  return absl::StrCat(headline, "; state here: ", ShortName(response.state()), " (",
                      Plural(response.message_ids_size(), "message", "messages"),
                      " queued for delivery)\n");
}

}  // namespace mir::client
