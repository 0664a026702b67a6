// The subcommands: one small run function each, or one shared run function
// for the lifecycle transitions, which differ only in their table entry.

#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/command_internal.h"
#include "client/format.h"
#include "client/json_input.h"
#include "client/selfcheck.h"
#include "client/statistics_format.h"
#include "client/values.h"
#include "common/status_macros.h"
#include "crypto/identity.h"

namespace mir::client {
namespace {

using Kind = FlagSpec::Kind;

const FlagSpec kTextFlag{"text", Kind::kValue, "TEXT",
                         "a short explanation, at most 500 characters, no personal data"};

// Referral ids are UUIDs the nodes assign.
absl::StatusOr<std::string> ReferralId(const Invocation& inv) {
  const std::string& id = inv.flags.positional().front();
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-');
  if (!ok)
    return UsageError(absl::StrCat(
        "'", id, "' is not a referral id (they look like 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44)"));
  return id;
}

absl::StatusOr<std::string> Required(const ParsedFlags& flags, const std::string& flag) {
  if (!flags.Has(flag)) return UsageError(absl::StrCat("--", flag, " is required"));
  return flags.Get(flag);
}

absl::StatusOr<uint32_t> Count(const ParsedFlags& flags, const std::string& flag,
                               uint32_t fallback) {
  if (!flags.Has(flag)) return fallback;
  uint32_t n;
  if (!absl::SimpleAtoi(flags.Get(flag), &n) || n == 0) {
    return UsageError(absl::StrCat("--", flag, " must be a whole number, 1 or more"));
  }
  return n;
}

absl::StatusOr<absl::Time> TimeFlag(const std::string& text, const std::string& flag) {
  auto t = ParseTimeFlag(text, "--" + flag);
  if (!t.ok()) return UsageError(t.status().message());
  return *t;
}

// A day in Europe/Rome (mirctl stats).
absl::StatusOr<absl::Time> DateFlag(const ParsedFlags& flags, const std::string& flag) {
  auto day = ParseStatisticsDate(flags.Get(flag), "--" + flag);
  if (absl::IsInvalidArgument(day.status())) return UsageError(day.status().message());
  return day;
}

absl::StatusOr<std::string> NodeFlag(const ParsedFlags& flags, const std::string& flag) {
  ASSIGN_OR_RETURN(std::string node, Required(flags, flag));
  if (!IsValidNodeId(node))
    return UsageError(absl::StrCat("--", flag, " must be a node id such as lombardia"));
  return node;
}

// ---- lifecycle transitions ----

struct Transition {
  const char* name;
  const char* synopsis;
  const char* summary;
  const char* details;
  const char* done;  // "placement accepted"
  v1::MessageKind kind;
  v1::ReferralState to_state;
  std::vector<FlagSpec> flags;
  // Reads this transition's own flags into the action.
  std::function<absl::Status(const Invocation&, Action&)> fill;
};

absl::Status NoExtraFields(const Invocation&, Action&) { return absl::OkStatus(); }

absl::Status FillForward(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string to, NodeFlag(inv.flags, "to"));
  a.destination_node = to;
  a.change.mutable_forward()->set_to_node(to);
  return absl::OkStatus();
}

absl::Status FillPropose(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string project, Required(inv.flags, "project"));
  ASSIGN_OR_RETURN(std::string from_text, Required(inv.flags, "available-from"));
  ASSIGN_OR_RETURN(absl::Time from, TimeFlag(from_text, "available-from"));
  a.change.mutable_placement()->set_project_ref(project);
  *a.change.mutable_placement()->mutable_available_from() = ToTimestamp(from);
  return absl::OkStatus();
}

absl::Status FillSchedule(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string date_text, Required(inv.flags, "date"));
  ASSIGN_OR_RETURN(absl::Time date, TimeFlag(date_text, "date"));
  *a.change.mutable_transfer_date() = ToTimestamp(date);
  return absl::OkStatus();
}

absl::Status FillConfirm(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string project, Required(inv.flags, "project"));
  a.confirmation.set_project_ref(project);
  if (inv.flags.Has("taken-at")) {
    ASSIGN_OR_RETURN(absl::Time at, TimeFlag(inv.flags.Get("taken-at"), "taken-at"));
    *a.confirmation.mutable_taken_in_charge_at() = ToTimestamp(at);
  }
  return absl::OkStatus();
}

absl::Status FillReject(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string text, Required(inv.flags, "reason"));
  ASSIGN_OR_RETURN(auto reason, EnumFlag<v1::RejectionReason>(text, "reason"));
  a.change.set_rejection_reason(reason);
  return absl::OkStatus();
}

absl::Status FillCloseNegative(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string text, Required(inv.flags, "reason"));
  ASSIGN_OR_RETURN(auto reason, EnumFlag<v1::ClosureReason>(text, "reason"));
  a.change.set_closure_reason(reason);
  return absl::OkStatus();
}

absl::Status FillWithdraw(const Invocation& inv, Action& a) {
  ASSIGN_OR_RETURN(std::string text, Required(inv.flags, "reason"));
  ASSIGN_OR_RETURN(auto reason, EnumFlag<v1::WithdrawalReason>(text, "reason"));
  a.change.set_withdrawal_reason(reason);
  return absl::OkStatus();
}

template <typename E>
FlagSpec ReasonFlag() {
  return {"reason", Kind::kValue, "REASON",
          absl::StrCat("why (required): ",
                       JoinAlternatives(ShortEnumNames(google::protobuf::GetEnumDescriptor<E>())),
                       "; OTHER needs --text")};
}

absl::Status PrintSubmitted(const Invocation& inv, const v1::SubmitResponse& response,
                            const std::string& headline) {
  inv.out << (inv.json ? ToJson(response) : FormatSubmitted(response, headline));
  return absl::OkStatus();
}

absl::Status RunTransition(const Transition& t, const Invocation& inv) {
  ASSIGN_OR_RETURN(std::string id, ReferralId(inv));
  Action action;
  action.kind = t.kind;
  action.referral_id = id;
  action.change.set_to_state(t.to_state);
  if (inv.flags.Has("text")) action.change.set_reason_text(inv.flags.Get("text"));
  RETURN_IF_ERROR(t.fill(inv, action));
  if (t.kind == v1::STATUS_CHANGE) {
    // Checked before connecting; the referral id and from_state come later.
    v1::StatusChange draft = action.change;
    draft.set_referral_id(id);
    if (t.to_state == v1::SUBMITTED) draft.mutable_forward()->set_referral_envelope("-");
    absl::Status valid = ValidateStatusChange(draft);
    if (!valid.ok()) return UsageError(valid.message());
  }
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::SubmitResponse response, client->Apply(action));
  std::string done = t.done;
  if (t.to_state == v1::SUBMITTED) absl::StrAppend(&done, " ", action.destination_node);
  return PrintSubmitted(inv, response, absl::StrCat("referral ", id, ": ", done));
}

const std::vector<Transition>& Transitions() {
  static const std::vector<Transition> transitions = {
      {"evaluate",
       "ID [--text TEXT]",
       "take a received referral into evaluation (RECEIVED -> UNDER_EVALUATION)",
       "Takes a received referral into evaluation: RECEIVED -> UNDER_EVALUATION. Operators\n"
       "of the receiving node. For an EMERGENCY_24H referral this is the acknowledgement\n"
       "its deadline asks for.\n\nexample: mirctl evaluate 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44",
       "taken into evaluation",
       v1::STATUS_CHANGE,
       v1::UNDER_EVALUATION,
       {kTextFlag},
       NoExtraFields},
      {"request-info",
       "ID [--text TEXT]",
       "ask the origin for more information (UNDER_EVALUATION -> INFO_REQUESTED)",
       "Asks the origin for more information: UNDER_EVALUATION -> INFO_REQUESTED.\n"
       "Operators of the receiving node. Say what is needed in --text, without personal data.\n\n"
       "example: mirctl request-info 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --text \"health needs\"",
       "information requested",
       v1::STATUS_CHANGE,
       v1::INFO_REQUESTED,
       {kTextFlag},
       NoExtraFields},
      {"answer-info",
       "ID [--text TEXT]",
       "answer a request for information (INFO_REQUESTED -> UNDER_EVALUATION)",
       "Answers a request for information and puts the referral back under evaluation:\n"
       "INFO_REQUESTED -> UNDER_EVALUATION. Operators of the origin node; the details\n"
       "themselves travel operator to operator.\n\n"
       "example: mirctl answer-info 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44",
       "information given, back under evaluation",
       v1::STATUS_CHANGE,
       v1::UNDER_EVALUATION,
       {kTextFlag},
       NoExtraFields},
      {"forward",
       "ID --to NODE [--text TEXT]",
       "national staff: route a referral on to a region (-> SUBMITTED there)",
       "Routes a referral under evaluation at the national node on to a region:\n"
       "UNDER_EVALUATION -> SUBMITTED, with the region as the new destination. Operators\n"
       "of the national node (nvn). The original signed referral travels unchanged.\n"
       "If that region rejects it, route it on again to another region (REJECTED ->\n"
       "SUBMITTED); never to a region that had it before.\n\n"
       "example: mirctl forward 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --to lombardia",
       "forwarded to",
       v1::STATUS_CHANGE,
       v1::SUBMITTED,
       {{"to", Kind::kValue, "NODE", "the region to forward to (required)"}, kTextFlag},
       FillForward},
      {"propose",
       "ID --project REF --available-from DATE [--text TEXT]",
       "offer a place (UNDER_EVALUATION -> PLACEMENT_PROPOSED)",
       "Offers a place in a project: UNDER_EVALUATION -> PLACEMENT_PROPOSED. Partners of\n"
       "the destination. Never give an address: the project reference is opaque.\n\n"
       "example: mirctl propose 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --project PRJ-LOM-07 "
       "--available-from 2025-03-04",
       "placement proposed",
       v1::STATUS_CHANGE,
       v1::PLACEMENT_PROPOSED,
       {{"project", Kind::kValue, "REF", "the opaque project reference (required)"},
        {"available-from", Kind::kValue, "DATE",
         "when the place is free: YYYY-MM-DD or RFC 3339 (required)"},
        kTextFlag},
       FillPropose},
      {"accept",
       "ID [--text TEXT]",
       "accept a proposed place (PLACEMENT_PROPOSED -> PLACEMENT_ACCEPTED)",
       "Accepts the proposed place once the person agrees: PLACEMENT_PROPOSED ->\n"
       "PLACEMENT_ACCEPTED. Operators of the origin node.\n\n"
       "example: mirctl accept 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44",
       "placement accepted",
       v1::STATUS_CHANGE,
       v1::PLACEMENT_ACCEPTED,
       {kTextFlag},
       NoExtraFields},
      {"schedule",
       "ID --date DATE [--text TEXT]",
       "fix the transfer date (PLACEMENT_ACCEPTED -> TRANSFER_SCHEDULED)",
       "Records the agreed transfer date: PLACEMENT_ACCEPTED -> TRANSFER_SCHEDULED.\n"
       "Operators of the origin or the destination.\n\n"
       "example: mirctl schedule 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --date 2025-03-05",
       "transfer scheduled",
       v1::STATUS_CHANGE,
       v1::TRANSFER_SCHEDULED,
       {{"date", Kind::kValue, "DATE", "the transfer date: YYYY-MM-DD or RFC 3339 (required)"},
        kTextFlag},
       FillSchedule},
      {"confirm",
       "ID --project REF [--taken-at TIME]",
       "partners: the person arrived and was taken in charge (-> PLACEMENT_CONFIRMED)",
       "Confirms that the person arrived and was taken in charge: TRANSFER_SCHEDULED ->\n"
       "PLACEMENT_CONFIRMED. Partners of the destination; a signed placement confirmation.\n\n"
       "example: mirctl confirm 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --project PRJ-LOM-07",
       "placement confirmed",
       v1::PLACEMENT_CONFIRMATION,
       v1::PLACEMENT_CONFIRMED,
       {{"project", Kind::kValue, "REF", "the opaque project reference (required)"},
        {"taken-at", Kind::kValue, "TIME", "when the person was taken in charge (default: now)"}},
       FillConfirm},
      {"close",
       "ID [--text TEXT]",
       "close a confirmed placement positively (-> CLOSED_POSITIVE)",
       "Closes a referral whose placement was confirmed: PLACEMENT_CONFIRMED ->\n"
       "CLOSED_POSITIVE. The national node or the destination.\n\n"
       "example: mirctl close 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44",
       "closed positively",
       v1::STATUS_CHANGE,
       v1::CLOSED_POSITIVE,
       {kTextFlag},
       NoExtraFields},
      {"close-negative",
       "ID --reason REASON [--text TEXT]",
       "national staff: close an open referral (-> CLOSED_NEGATIVE)",
       "Closes an open referral without a placement: any open state -> CLOSED_NEGATIVE.\n"
       "The national node.\n\n"
       "example: mirctl close-negative 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --reason "
       "NO_AVAILABILITY",
       "closed negatively",
       v1::STATUS_CHANGE,
       v1::CLOSED_NEGATIVE,
       {ReasonFlag<v1::ClosureReason>(), kTextFlag},
       FillCloseNegative},
      {"reject",
       "ID --reason REASON [--text TEXT]",
       "refuse a referral or a proposed place (-> REJECTED)",
       "Refuses a referral under evaluation or a proposed place: UNDER_EVALUATION or\n"
       "PLACEMENT_PROPOSED -> REJECTED. Operators or partners of the destination or of\n"
       "the national node.\n"
       "A referral the national node routed to you goes back to it, which may route\n"
       "it on to another region: its sealed fields are erased at your node.\n\n"
       "example: mirctl reject 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --reason NO_PLACES",
       "rejected",
       v1::STATUS_CHANGE,
       v1::REJECTED,
       {ReasonFlag<v1::RejectionReason>(), kTextFlag},
       FillReject},
      {"withdraw",
       "ID --reason REASON [--text TEXT]",
       "origin staff: withdraw an open referral (-> WITHDRAWN)",
       "Withdraws an open referral: any open state -> WITHDRAWN. Operators of the origin.\n\n"
       "example: mirctl withdraw 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --reason CONSENT_WITHDRAWN",
       "withdrawn",
       v1::STATUS_CHANGE,
       v1::WITHDRAWN,
       {ReasonFlag<v1::WithdrawalReason>(), kTextFlag},
       FillWithdraw},
  };
  return transitions;
}

// ---- the other commands ----

absl::Status RunSubmit(const Invocation& inv) {
  v1::Referral referral;
  std::string source = "";
  if (inv.flags.Has("file")) {
    if (HasReferralFieldFlags(inv.flags)) {
      return UsageError(
          "use either --file or the referral field flags, not both (only --to goes with --file)");
    }
    source = inv.flags.Get("file");
    auto text = inv.env.read_file(source);
    if (!text.ok()) return UsageError(text.status().message());
    auto parsed = ParseReferralJson(*text);
    if (!parsed.ok()) return UsageError(absl::StrCat(source, ": ", parsed.status().message()));
    referral = std::move(*parsed);
  } else {
    RETURN_IF_ERROR(ApplyReferralFlags(inv.flags, referral));
    if (referral.consent().given() && !referral.consent().has_given_at()) {
      *referral.mutable_consent()->mutable_given_at() = ToTimestamp(inv.env.clock->Now());
    }
  }
  if (inv.flags.Has("to")) {
    ASSIGN_OR_RETURN(std::string to, NodeFlag(inv.flags, "to"));
    if (!referral.destination_node().empty() && referral.destination_node() != to) {
      return UsageError(absl::StrCat("--to ", to, " differs from destination_node in ", source));
    }
    referral.set_destination_node(to);
  }
  const std::string where = source.empty() ? "" : source + ": ";
  if (referral.destination_node().empty())
    return UsageError("--to NODE is required: where the referral goes");
  if (absl::Status valid = ValidateReferral(referral); !valid.ok()) {
    return UsageError(absl::StrCat(where, valid.message()));
  }
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::SubmitResponse response, client->SubmitReferral(referral));
  return PrintSubmitted(inv, response,
                        absl::StrCat("referral ", response.referral_id(), " submitted to ",
                                     referral.destination_node()));
}

absl::Status RunList(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::ListRequest request, ListRequestFromFlags(inv.flags));
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::ListResponse response, client->List(request));
  inv.out << (inv.json ? ToJson(response) : FormatSummaries(response, client->identity().node));
  return absl::OkStatus();
}

absl::Status RunShow(const Invocation& inv) {
  ASSIGN_OR_RETURN(std::string id, ReferralId(inv));
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::ReferralView view, client->Get(id));
  inv.out << (inv.json ? ToJson(view) : FormatView(view, client->identity().node));
  return absl::OkStatus();
}

absl::Status RunCirculate(const Invocation& inv) {
  ASSIGN_OR_RETURN(std::string id, ReferralId(inv));
  const std::vector<std::string> partners = inv.flags.GetAll("partner");
  if (partners.empty())
    return UsageError("--partner URI is required, e.g. mir://toscana/partner/shelter1");
  for (const std::string& uri : partners) {
    auto identity = ParseIdentity(uri);
    if (!identity.ok() || identity->role != Role::kPartner) {
      return UsageError(absl::StrCat(
          "--partner ", uri, " is not a partner identity such as mir://toscana/partner/shelter1"));
    }
  }
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  RETURN_IF_ERROR(client->Circulate(id, partners));
  if (inv.json) {
    inv.out << ToJson(v1::CirculateResponse());
  } else {
    inv.out << "referral " << id << " is now visible to " << absl::StrJoin(partners, ", ") << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunWatch(const Invocation& inv) {
  ASSIGN_OR_RETURN(uint32_t count, Count(inv.flags, "count", 0));
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  uint32_t seen = 0;
  return client->Watch(
      [&](const v1::WatchEvent& event) {
        inv.out << (inv.json ? ToJson(event, /*pretty=*/false) : FormatWatchEvent(event))
                << std::flush;
        return count == 0 || ++seen < count;
      },
      [&] {
        if (inv.json) return;
        inv.out << "watching node " << client->address()
                << " for new referrals and status changes (Ctrl-C to stop)\n"
                << std::flush;
      });
}

absl::Status RunDeadLetters(const Invocation& inv) {
  ASSIGN_OR_RETURN(uint32_t limit, Count(inv.flags, "limit", 100));
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::ListDeadLettersResponse response, client->ListDeadLetters(limit));
  inv.out << (inv.json ? ToJson(response) : FormatDeadLetters(response));
  return absl::OkStatus();
}

absl::Status RunRequeue(const Invocation& inv) {
  const bool all = inv.flags.Has("all");
  const bool one = !inv.flags.positional().empty();
  if (all == one) return UsageError("give either one MESSAGE_ID or --all");
  const std::string message_id = one ? inv.flags.positional().front() : "";
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(uint32_t requeued, client->Requeue(message_id));
  if (inv.json) {
    v1::RequeueResponse response;
    response.set_requeued(requeued);
    inv.out << ToJson(response);
  } else {
    inv.out << "requeued " << requeued << (requeued == 1 ? " message" : " messages")
            << " for delivery\n";
  }
  return absl::OkStatus();
}

absl::Status RunNode(const Invocation& inv) {
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::NodeStatus status, client->GetNodeStatus());
  inv.out << (inv.json ? ToJson(status) : FormatNodeStatus(status));
  return absl::OkStatus();
}

absl::Status RunStats(const Invocation& inv) {
  v1::StatisticsRequest request;
  if (inv.flags.Has("from")) {
    ASSIGN_OR_RETURN(absl::Time from, DateFlag(inv.flags, "from"));
    *request.mutable_from() = ToTimestamp(from);
  }
  if (inv.flags.Has("to")) {
    ASSIGN_OR_RETURN(absl::Time to, DateFlag(inv.flags, "to"));
    *request.mutable_to() = ToTimestamp(to);
  }
  if (inv.flags.Has("raw")) request.set_suppressed(false);
  if (inv.flags.Has("national")) request.set_national(true);
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::Statistics statistics, client->GetStatistics(request));
  if (inv.json) {
    inv.out << ToJson(statistics);
  } else if (inv.flags.Has("csv")) {
    inv.out << StatisticsCsv(statistics);
  } else {
    inv.out << FormatStatistics(statistics);
  }
  return absl::OkStatus();
}

absl::Status RunErase(const Invocation& inv) {
  const std::string& id = inv.flags.positional().front();
  if (!inv.flags.Has("reason")) return UsageError("--reason TEXT is required (no personal data)");
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::EraseResponse response, client->Erase(id, inv.flags.Get("reason")));
  inv.out << (inv.json ? ToJson(response)
                       : absl::StrCat("referral ", id,
                                      ": personal data erased at this node; its signed history "
                                      "and audit chain stay\n"));
  return absl::OkStatus();
}

absl::Status RunHold(const Invocation& inv) {
  const std::string& id = inv.flags.positional().front();
  const bool lift = inv.flags.Has("lift");
  if (lift == inv.flags.Has("reason")) return UsageError("give either --reason TEXT or --lift");
  ASSIGN_OR_RETURN(auto client, inv.Connect());
  ASSIGN_OR_RETURN(v1::LegalHoldResponse response,
                   client->SetLegalHold(id, !lift, inv.flags.Get("reason")));
  inv.out << (inv.json ? ToJson(response)
                       : absl::StrCat("referral ", id,
                                      lift ? ": legal hold lifted\n"
                                           : ": legal hold set; nothing erases it until lifted\n"));
  return absl::OkStatus();
}

absl::Status RunSelfCheckCommand(const Invocation& inv) {
  const std::string pki =
      inv.flags.Get("pki", inv.env.getenv ? inv.env.getenv("MIR_PKI").value_or("") : "");
  if (pki.empty()) return UsageError("--pki DIR is required");
  absl::Status status = RunSelfCheck(pki, inv.out);
  if (!status.ok())
    return absl::Status(status.code(), absl::StrCat("self-check FAILED: ", status.message()));
  inv.out << "self-check OK: signing and verification work on this machine\n";
  return absl::OkStatus();
}

Command FromTransition(const Transition& t) {
  return Command{t.name,    t.synopsis,
                 t.summary, t.details,
                 t.flags,   1,
                 1,         [&t](const Invocation& inv) { return RunTransition(t, inv); }};
}

std::vector<FlagSpec> SubmitFlags() {
  std::vector<FlagSpec> flags = {
      {"file", Kind::kValue, "FILE",
       "a referral in protobuf JSON (mir.v1.Referral) instead of field flags"},
      {"to", Kind::kValue, "NODE", "the destination node, e.g. nvn or lombardia (required)"},
  };
  flags.insert(flags.end(), ReferralFieldFlags().begin(), ReferralFieldFlags().end());
  return flags;
}

std::vector<Command> BuildTable() {
  std::vector<Command> table;
  table.push_back(
      {"submit", "--to NODE (--file FILE | --consent --person-code CODE --urgency U ...)",
       "submit a new referral, from flags or from a JSON file",
       "Signs and submits a new referral from your node. Operators only. The person's\n"
       "consent must be recorded (--consent, or \"consent\": {\"given\": true} in the file),\n"
       "or nothing is sent. mirctl makes the referral id. The destination must take an\n"
       "EMERGENCY_24H referral into evaluation before the node's deadline (15 minutes\n"
       "unless configured otherwise), or both ends raise an alarm. Nodes send more urgent\n"
       "referrals first: an EMERGENCY_24H one does not wait behind a backlog.\n\n"
       "examples:\n"
       "  mirctl submit --to nvn --consent --consent-method WRITTEN --person-code TOS-7Q2M \\\n"
       "      --urgency EMERGENCY_24H --danger HIGH --service EMERGENCY_SHELTER --language pcm\n"
       "  mirctl submit --to nvn --file referral.json",
       SubmitFlags(), 0, 0, RunSubmit});
  table.push_back(
      {"list",
       "[--direction inbound|outbound] [--state S]... [--urgency U] [--overdue] ...",
       "list the referrals at your node, with filters",
       "Lists the referrals your node holds, as a table. States and urgencies are written\n"
       "without prefixes (RECEIVED, EMERGENCY_24H). DIR is out when your node is the\n"
       "origin, in when it is the destination, via when it routed it.\n\n"
       "example: mirctl list --direction inbound --state RECEIVED --overdue",
       {{"direction", Kind::kValue, "DIR", "inbound or outbound"},
        {"state", Kind::kRepeated, "STATE",
         absl::StrCat("only these states, repeatable: ",
                      JoinAlternatives(ShortEnumNames(v1::ReferralState_descriptor())))},
        {"urgency", Kind::kValue, "URGENCY", "EMERGENCY_24H, URGENT or ORDINARY"},
        {"counterpart", Kind::kValue, "NODE", "only referrals to or from this node"},
        {"since", Kind::kValue, "TIME", "only those updated since: YYYY-MM-DD or RFC 3339"},
        {"overdue", Kind::kBool, "",
         "only EMERGENCY_24H referrals past their acknowledgement deadline"},
        {"limit", Kind::kValue, "N", "at most N rows (default 100)"}},
       0,
       0,
       RunList});
  table.push_back(
      {"show",
       "ID",
       "show one referral: summary, fields and timeline with delivery proofs",
       "Shows one referral: its summary, its fields (partners see the placement fields\n"
       "only) and its timeline. Each event says what happened, who did it, at which node\n"
       "and when; under it, marked \"delivery:\", is the proof that the message carrying it\n"
       "arrived (a signed receipt), which is not an answer. This prints personal fields:\n"
       "use it only where the person's data may be seen.\n\n"
       "example: mirctl show 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44",
       {},
       1,
       1,
       RunShow});
  for (const Transition& t : Transitions()) table.push_back(FromTransition(t));
  table.push_back(
      {"circulate",
       "ID --partner URI...",
       "operators: make a referral visible to some of your node's partners",
       "Lets some of your node's project partners see a referral (its placement fields)\n"
       "so that they can offer a place. Operators only.\n\n"
       "example: mirctl circulate 0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44 --partner "
       "mir://lombardia/partner/shelter1",
       {{"partner", Kind::kRepeated, "URI",
         "a partner identity, e.g. mir://lombardia/partner/shelter1; repeatable"}},
       1,
       1,
       RunCirculate});
  table.push_back(
      {"watch",
       "[--count N]",
       "print new referrals and status changes as they happen",
       "Prints one line for each new inbound referral and each status change applied at\n"
       "your node, as it happens, until interrupted (Ctrl-C). OVERDUE marks an\n"
       "EMERGENCY_24H referral past its acknowledgement deadline. With --json, one JSON\n"
       "object per line. If the connection drops, watch ends with an error (exit 3).\n\n"
       "example: mirctl watch",
       {{"count", Kind::kValue, "N", "stop after N events"}},
       0,
       0,
       RunWatch});
  table.push_back(
      {"dead-letters",
       "[--limit N]",
       "operators: list messages your node gave up delivering",
       "Lists the envelopes your node stopped retrying, with the peer and the last error.\n"
       "Operators only. Retry them with 'mirctl requeue'.\n\nexample: mirctl dead-letters",
       {{"limit", Kind::kValue, "N", "at most N rows (default 100)"}},
       0,
       0,
       RunDeadLetters});
  table.push_back(
      {"requeue",
       "(MESSAGE_ID | --all)",
       "operators: retry dead letters",
       "Puts one dead letter, or all of them, back in the delivery queue. Operators only.\n\n"
       "examples:\n  mirctl requeue 5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f\n  mirctl requeue --all",
       {{"all", Kind::kBool, "", "requeue every dead letter"}},
       0,
       1,
       RunRequeue});
  table.push_back(
      {"node",
       "",
       "operators: your node's page: peers, queues, alarms, certificates",
       "Shows, for each peer, whether it answered the last call, how many messages wait\n"
       "for it and since when, its dead letters and what it received; overdue\n"
       "emergencies; whether the store has failed; and how long each certificate the\n"
       "node uses or has seen is still valid. The same figures as the node's metrics.\n"
       "Operators only.\n\nexample: mirctl node",
       {},
       0,
       0,
       RunNode});
  table.push_back(
      {"stats",
       "[--from YYYY-MM-DD] [--to YYYY-MM-DD] [--national] [--raw] [--csv]",
       "operators: your node's (or the national) MIR statistics, small counts hidden",
       "The MIR opened from --from up to --to (exclusive; days in Europe/Rome): by month\n"
       "and outcome, outbound and inbound; origin by destination; rejection reasons;\n"
       "emergency activations by hour; time from SUBMITTED to PLACEMENT_CONFIRMED.\n"
       "Without dates: this calendar year so far. Counts from 1 to 10 are hidden as *,\n"
       "with the other cells needed to keep them hidden (docs/STATISTICS.md). --raw shows\n"
       "every count: internal, not for publication. --csv prints each table as CSV after\n"
       "a '# title' line, tables separated by a blank line. Operators only.\n\n"
       "--national, at the national node: the network's tables, the sum of the monthly\n"
       "reports every node sends it (each referral counted by the node that opened it),\n"
       "with the nodes and months summed.\n\n"
       "example: mirctl stats --from 2026-01-01 --to 2026-07-01 --csv",
       {{"from", Kind::kValue, "YYYY-MM-DD", "the first day counted (default: 1 January)"},
        {"to", Kind::kValue, "YYYY-MM-DD",
         "the day after the last counted (default: the 1st of next month)"},
        {"national", Kind::kBool, "",
         "at the national node: the sum of every node's monthly reports"},
        {"raw", Kind::kBool, "", "every count, unsuppressed: internal, not for publication"},
        {"csv", Kind::kBool, "", "CSV instead of aligned tables"}},
       0,
       0,
       RunStats});
  table.push_back(
      {"erase",
       "REFERRAL_ID --reason TEXT",
       "operators: erase a referral's personal data at your node",
       "Destroys the referral's key at your node (crypto-erasure): its sealed fields,\n"
       "notes and free text can no longer be read here, while its signed history and the\n"
       "audit chain still verify. Copies at other nodes are theirs to erase. Refused under\n"
       "a legal hold. Operators only; the reason is recorded (no personal data).\n\n"
       "example: mirctl erase 5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f --reason \"DPO request 12\"",
       {{"reason", Kind::kValue, "TEXT", "why (recorded, shown by show)"}},
       1,
       1,
       RunErase});
  table.push_back(
      {"hold",
       "REFERRAL_ID (--reason TEXT | --lift)",
       "operators: set or lift a legal hold",
       "A legal hold stops every erasure of the referral at your node: retention, an\n"
       "operator's erase and a purge order (which is carried out when the hold is lifted).\n\n"
       "examples:\n  mirctl hold 5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f --reason \"court order\"\n"
       "  mirctl hold 5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f --lift",
       {{"reason", Kind::kValue, "TEXT", "why the hold is set"},
        {"lift", Kind::kBool, "", "lift the hold"}},
       1,
       1,
       RunHold});
  table.push_back(
      {"selfcheck",
       "--pki DIR",
       "check that signing and verification work on this machine",
       "Signs a fictional referral as DIR/toscana/operator, verifies it against DIR/ca.crt,\n"
       "and checks that a tampered copy is refused. Talks to no node.\n\n"
       "example: mirctl selfcheck --pki .mir-demo/pki",
       {},
       0,
       0,
       RunSelfCheckCommand});
  for (Command& c : ReportCommands()) table.push_back(std::move(c));
  for (Command& c : ServiceCommands()) table.push_back(std::move(c));
  return table;
}

}  // namespace

absl::StatusOr<v1::ListRequest> ListRequestFromFlags(const ParsedFlags& f) {
  v1::ListRequest request;
  if (f.Has("direction")) {
    const std::string d = f.Get("direction");
    if (d == "in" || d == "inbound")
      request.set_direction(v1::DIRECTION_INBOUND);
    else if (d == "out" || d == "outbound")
      request.set_direction(v1::DIRECTION_OUTBOUND);
    else
      return UsageError("--direction must be inbound or outbound");
  }
  for (const std::string& s : f.GetAll("state")) {
    ASSIGN_OR_RETURN(auto state, EnumFlag<v1::ReferralState>(s, "state"));
    request.add_states(state);
  }
  if (f.Has("urgency")) {
    ASSIGN_OR_RETURN(auto urgency, EnumFlag<v1::Urgency>(f.Get("urgency"), "urgency"));
    request.set_urgency(urgency);
  }
  if (f.Has("counterpart")) {
    ASSIGN_OR_RETURN(std::string node, NodeFlag(f, "counterpart"));
    request.set_counterpart_node(node);
  }
  if (f.Has("since")) {
    ASSIGN_OR_RETURN(absl::Time since, TimeFlag(f.Get("since"), "since"));
    *request.mutable_since() = ToTimestamp(since);
  }
  request.set_overdue_only(f.Has("overdue"));
  ASSIGN_OR_RETURN(uint32_t limit, Count(f, "limit", 100));
  request.set_limit(limit);
  return request;
}

const std::vector<Command>& CommandTable() {
  static const std::vector<Command> table = BuildTable();
  return table;
}

}  // namespace mir::client
