#include "console/service.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "broker/authorization.h"
#include "client/actions.h"
#include "client/json_input.h"
#include "client/statistics_format.h"
#include "client/values.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "console/errors.h"
#include "console/json.h"
#include "console/tokens.h"
#include "crypto/console_login.h"
#include "crypto/envelope_bytes.h"
#include "crypto/openssl_util.h"
#include "crypto/sealed_referral.h"
#include "crypto/sealing.h"
#include "google/protobuf/util/json_util.h"

namespace mir::console {
namespace {

absl::Status LoginRefused(absl::string_view reason, absl::string_view message) {
  return ConsoleError(absl::StatusCode::kUnauthenticated, reason, message);
}

// VerifyConsoleLogin's reasons as the console's (docs/CONSOLE-API.md).
absl::Status ExplainLogin(const absl::Status& status) {
  switch (mir::ReasonOf(status)) {
    case v1::CERTIFICATE_EXPIRED:
      return LoginRefused("CERTIFICATE_EXPIRED", "your certificate has expired");
    case v1::CERTIFICATE_NOT_YET_VALID:
      return LoginRefused("CERTIFICATE_NOT_YET_VALID",
                          "your certificate is not valid yet: check this computer's date");
    case v1::UNTRUSTED_CERTIFICATE:
      return LoginRefused(kUnknownCa, "your certificate was not issued by this network's CA");
    case v1::REVOKED:
      return LoginRefused("REVOKED", "your certificate has been revoked");
    case v1::ROLE_NOT_ALLOWED:
    case v1::IDENTITY_MISMATCH:
      return LoginRefused(kWrongRole,
                          "this certificate is not of an operator or partner of this node");
    case v1::BAD_SIGNATURE:
      return LoginRefused("BAD_SIGNATURE", "the signature does not match the statement");
    case v1::NOT_FOR_THIS_NODE:
    case v1::CLOCK_SKEW:
    case v1::CONSOLE_PROOF:
      return LoginRefused(kChallengeUnknown,
                          "the statement is not this console's, or too old: sign in again");
    default:
      return LoginRefused(kMalformed, "the sign-in request is not well formed");
  }
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// "field consent.given must ..." -> "consent.given"; mirctl's validation
// messages name the field so.
std::string FieldOfMessage(absl::string_view message) {
  if (absl::StartsWith(message, "field ")) {
    message.remove_prefix(6);
    return std::string(message.substr(0, message.find(' ')));
  }
  if (absl::StrContains(message, "consent")) return "consent";
  return "";
}

absl::Status InvalidField(const absl::Status& status) {
  return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD", status.message(),
                      FieldOfMessage(status.message()));
}

template <typename Enum>
absl::StatusOr<Enum> EnumParam(const google::protobuf::EnumDescriptor* descriptor,
                               absl::string_view prefix, absl::string_view value,
                               absl::string_view param) {
  const std::string upper = absl::AsciiStrToUpper(value);
  for (const std::string& name : {upper, absl::StrCat(prefix, upper)}) {
    if (const auto* v = descriptor->FindValueByName(name); v != nullptr && v->number() != 0) {
      return static_cast<Enum>(v->number());
    }
  }
  return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                      absl::StrCat("query parameter ", param, " is not a known value"), param);
}

// A day of GET /api/statistics as the start of that day in Europe/Rome.
absl::StatusOr<absl::Time> StatisticsDay(const std::string& value, const std::string& param) {
  auto day = client::ParseStatisticsDate(value, param);
  if (absl::IsInvalidArgument(day.status())) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        absl::StrCat("query parameter ", param,
                                     " must be a date such as 2026-03-01 (a day in Europe/Rome)"),
                        param);
  }
  return day;
}

// A hidden count carries no value in the answer, not even the 0 that the
// node puts there (ToJson prints every field): a cell {"hidden": true}.
void DropHiddenValues(google::protobuf::Value& value) {
  if (value.has_list_value()) {
    for (auto& v : *value.mutable_list_value()->mutable_values()) DropHiddenValues(v);
    return;
  }
  if (!value.has_struct_value()) return;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  if (auto it = fields.find("hidden"); it != fields.end() && it->second.bool_value()) {
    fields.erase("value");
  }
  if (auto it = fields.find("nHidden"); it != fields.end() && it->second.bool_value()) {
    fields.erase("n");
  }
  if (auto it = fields.find("published"); it != fields.end() && !it->second.bool_value()) {
    fields.erase("medianHours");
    fields.erase("p90Hours");
  }
  for (auto& [name, v] : fields) DropHiddenValues(v);
}

std::string StatisticsJson(const v1::Statistics& statistics) {
  const std::string json = ToJson(statistics);
  google::protobuf::Value value;
  if (!google::protobuf::util::JsonStringToMessage(json, &value).ok()) return json;
  DropHiddenValues(value);
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(value, &out).ok()) return json;
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConsoleService>> ConsoleService::Create(
    const ConsoleOptions& options, const Clock* clock) {
  auto trust = ReadTrustMaterial(options.ca_certificate, options.crl_files);
  if (!trust.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the CA or CRL files: ", trust.status().message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Verifier> verifier, Verifier::FromTrust(*trust, clock));
  ASSIGN_OR_RETURN(std::unique_ptr<Relay> relay, Relay::Create(options));
  return std::unique_ptr<ConsoleService>(
      new ConsoleService(options, clock, std::move(verifier), std::move(relay)));
}

ConsoleService::ConsoleService(ConsoleOptions options, const Clock* clock,
                               std::unique_ptr<Verifier> verifier, std::unique_ptr<Relay> relay)
    : options_(std::move(options)),
      clock_(clock),
      verifier_(std::move(verifier)),
      relay_(std::move(relay)),
      sessions_(clock, options_.session_idle, options_.session_absolute),
      challenges_(clock, options_.origin, options_.node_id),
      pending_(clock) {}

std::string ConsoleService::Challenge() {
  return absl::StrCat("{\"statement\": ", JsonString(challenges_.Issue()), "}");
}

absl::StatusOr<LoginResult> ConsoleService::Login(absl::string_view body) {
  auto object = ParseObject(body);
  if (!object.ok()) return LoginRefused(kMalformed, "the sign-in request is not one JSON object");
  auto statement = MemberString(*object, "statement");
  auto pem = MemberString(*object, "certificatePem");
  auto signature_b64 = MemberString(*object, "signature");
  if (!statement.ok() || !pem.ok() || !signature_b64.ok() || statement->empty() || pem->empty() ||
      signature_b64->empty()) {
    return LoginRefused(kMalformed, "statement, certificatePem and signature are required");
  }
  auto cert = crypto_internal::ParseCertificatePem(*pem);
  if (!cert.ok()) return LoginRefused(kMalformed, "certificatePem is not a PEM certificate");
  std::string signature;
  if (!absl::Base64Unescape(*signature_b64, &signature) &&
      !absl::WebSafeBase64Unescape(*signature_b64, &signature)) {
    return LoginRefused(kMalformed, "signature is not base64");
  }
  v1::ConsoleLoginProof proof;
  proof.set_statement(*statement);
  proof.set_certificate(crypto_internal::CertificateToDer(cert->get()));
  proof.set_signature(signature);
  ConsoleLoginCheck check;
  check.node = options_.node_id;
  check.now = clock_->Now();
  check.max_age = absl::Seconds(120);
  auto verified = VerifyConsoleLogin(*verifier_, proof, check);
  if (!verified.ok()) return ExplainLogin(verified.status());
  const Identity& person = verified->person;
  if ((person.role != Role::kOperator && person.role != Role::kPartner) ||
      person.node != options_.node_id) {
    return LoginRefused(kWrongRole,
                        "this certificate is not of an operator or partner of this node");
  }
  if (verified->statement.origin != options_.origin) {
    return LoginRefused(kChallengeUnknown, "the statement names another console's origin");
  }
  RETURN_IF_ERROR(challenges_.Redeem(*statement));
  Session session = sessions_.Create(person, proof.certificate(), proof.SerializeAsString());
  MIR_LOG(INFO) << "console sign-in of " << person.Uri();
  LoginResult result;
  result.json = Me(session);
  result.session = std::move(session);
  return result;
}

void ConsoleService::Logout(const Session& session) {
  sessions_.End(session.id);
  pending_.EndSession(session.id);
  MIR_LOG(INFO) << "console sign-out of " << session.person.Uri();
}

absl::StatusOr<Session> ConsoleService::Authenticate(absl::string_view cookie) {
  return sessions_.Use(cookie);
}

absl::Status ConsoleService::CheckCsrf(const Session& session, absl::string_view header) const {
  if (!SameToken(session.csrf, header)) {
    return ConsoleError(absl::StatusCode::kPermissionDenied, kCsrf,
                        "the request lacks this session's X-MIR-CSRF token");
  }
  return absl::OkStatus();
}

std::string ConsoleService::Me(const Session& session) const {
  return absl::StrCat("{\"identity\": ", JsonString(session.person.Uri()),
                      ", \"node\": ", JsonString(session.person.node),
                      ", \"role\": ", JsonString(RoleName(session.person.role)),
                      ", \"name\": ", JsonString(session.person.name),
                      ", \"csrf\": ", JsonString(session.csrf),
                      ", \"idleTimeoutS\": ", absl::ToInt64Seconds(sessions_.idle()),
                      ", \"expiresAt\": ", JsonString(Rfc3339(session.expires_at)), "}");
}

absl::Status ConsoleService::Relayed(const Session& session, absl::Status status) {
  if (mir::ReasonOf(status) == v1::CONSOLE_PROOF) {
    sessions_.End(session.id);
    pending_.EndSession(session.id);
    return ConsoleError(absl::StatusCode::kUnauthenticated, kSessionExpired,
                        "the node no longer accepts this sign-in: sign in again");
  }
  return status;
}

absl::Status ConsoleService::OperatorsOnly(const Session& session, int action) const {
  const broker::Authorization authorization(options_.node_id, options_.national_node, {});
  return authorization.Check(session.person, static_cast<broker::Action>(action));
}

absl::StatusOr<std::string> ConsoleService::ListReferrals(
    const Session& session, const std::multimap<std::string, std::string>& query) {
  v1::ListRequest request;
  std::string q;
  for (const auto& [key, value] : query) {
    if (value.empty()) continue;
    if (key == "direction") {
      ASSIGN_OR_RETURN(v1::Direction d, EnumParam<v1::Direction>(v1::Direction_descriptor(),
                                                                 "DIRECTION_", value, key));
      request.set_direction(d);
    } else if (key == "state") {
      for (absl::string_view one : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        ASSIGN_OR_RETURN(v1::ReferralState s, EnumParam<v1::ReferralState>(
                                                  v1::ReferralState_descriptor(), "", one, key));
        request.add_states(s);
      }
    } else if (key == "urgency") {
      ASSIGN_OR_RETURN(v1::Urgency u,
                       EnumParam<v1::Urgency>(v1::Urgency_descriptor(), "URGENCY_", value, key));
      request.set_urgency(u);
    } else if (key == "overdue") {
      request.set_overdue_only(value == "1" || value == "true");
    } else if (key == "counterpart") {
      request.set_counterpart_node(value);
    } else if (key == "limit") {
      uint32_t limit = 0;
      if (!absl::SimpleAtoi(value, &limit)) {
        return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                            "query parameter limit must be a number", "limit");
      }
      request.set_limit(limit);
    } else if (key == "q") {
      q = absl::AsciiStrToLower(value);
    }
  }
  auto listed = relay_->List(session, request);
  if (!listed.ok()) return Relayed(session, listed.status());
  if (!q.empty()) {
    v1::ListResponse kept;
    for (const v1::ReferralSummary& r : listed->referrals()) {
      if (absl::StartsWith(r.referral_id(), q) || absl::StartsWith(r.origin_node(), q) ||
          absl::StartsWith(r.destination_node(), q)) {
        *kept.add_referrals() = r;
      }
    }
    return ToJson(kept);
  }
  return ToJson(*listed);
}

std::vector<std::string> ConsoleService::RouteOnSuggestions(const Session& session,
                                                            const v1::ReferralView& view) {
  // Suggestions only: without the node's page the person types the node.
  auto status = relay_->GetNodeStatus(session, v1::NodeStatusRequest());
  if (!status.ok()) return {};
  return RouteOnCandidates(view, *status, options_.national_node);
}

absl::StatusOr<std::string> ConsoleService::GetReferral(const Session& session,
                                                        const std::string& id) {
  if (!IsCanonicalUuid(id)) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        "a referral id is a lowercase UUID", "id");
  }
  v1::GetRequest request;
  request.set_referral_id(id);
  auto view = relay_->Get(session, request);
  if (!view.ok()) return Relayed(session, view.status());
  return absl::StrCat("{\"view\": ", ToJson(*view), ", \"actions\": ",
                      AllowedActionsJson(view->summary(), session.person, options_.national_node,
                                         [&] { return RouteOnSuggestions(session, *view); }),
                      "}");
}

absl::StatusOr<std::string> ConsoleService::Circulate(const Session& session, const std::string& id,
                                                      absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kCirculate)));
  v1::CirculateRequest request;
  RETURN_IF_ERROR(FromJson(body, &request, "body"));
  request.set_referral_id(id);
  auto done = relay_->Circulate(session, request);
  if (!done.ok()) return Relayed(session, done.status());
  return ToJson(*done);
}

absl::StatusOr<std::string> ConsoleService::DeadLetters(const Session& session) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kListDeadLetters)));
  auto listed = relay_->ListDeadLetters(session, v1::ListDeadLettersRequest());
  if (!listed.ok()) return Relayed(session, listed.status());
  return ToJson(*listed);
}

absl::StatusOr<std::string> ConsoleService::Requeue(const Session& session,
                                                    absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kRequeue)));
  v1::RequeueRequest request;
  RETURN_IF_ERROR(FromJson(body, &request, "body"));
  auto done = relay_->Requeue(session, request);
  if (!done.ok()) return Relayed(session, done.status());
  return ToJson(*done);
}

absl::StatusOr<std::string> ConsoleService::NodeStatus(const Session& session) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kNodeStatus)));
  auto status = relay_->GetNodeStatus(session, v1::NodeStatusRequest());
  if (!status.ok()) return Relayed(session, status.status());
  return ToJson(*status);
}

absl::StatusOr<std::string> ConsoleService::Statistics(
    const Session& session, const std::multimap<std::string, std::string>& query) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kStatistics)));
  v1::StatisticsRequest request;
  std::optional<absl::Time> from;
  std::optional<absl::Time> to;
  for (const auto& [key, value] : query) {
    if (value.empty()) continue;
    if (key == "from") {
      ASSIGN_OR_RETURN(from, StatisticsDay(value, key));
    } else if (key == "to") {
      ASSIGN_OR_RETURN(to, StatisticsDay(value, key));
    } else if (key == "raw") {
      if (value != "0" && value != "1" && value != "true" && value != "false") {
        return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                            "query parameter raw must be 0 or 1", "raw");
      }
      request.set_suppressed(value == "0" || value == "false");
    } else if (key == "national") {
      if (value != "0" && value != "1" && value != "true" && value != "false") {
        return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                            "query parameter national must be 0 or 1", "national");
      }
      request.set_national(value == "1" || value == "true");
    }
  }
  if (from.has_value() && to.has_value() && *to <= *from) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        "query parameter to must be a day after from", "to");
  }
  if (from.has_value()) *request.mutable_from() = client::ToTimestamp(*from);
  if (to.has_value()) *request.mutable_to() = client::ToTimestamp(*to);
  auto statistics = relay_->GetStatistics(session, request);
  if (!statistics.ok()) return Relayed(session, statistics.status());
  return StatisticsJson(*statistics);
}

absl::StatusOr<std::string> ConsoleService::PreparedAnswer(UnsignedAction action) {
  std::vector<std::string> to_sign = BytesToSign(action);
  std::vector<std::string> recipients;
  for (const std::string& bytes : action.headers) {
    v1::EnvelopeHeader header;
    header.ParseFromString(bytes);
    recipients.push_back(JsonString(header.recipient_node()));
  }
  std::vector<std::string> quoted;
  for (const std::string& s : to_sign) quoted.push_back(JsonString(s));
  const std::string referral_id = action.referral_id;
  const std::string token = pending_.Add(std::move(action));
  return absl::StrCat("{\"token\": ", JsonString(token), ", \"toSign\": [",
                      absl::StrJoin(quoted, ", "), "], \"referralId\": ", JsonString(referral_id),
                      ", \"recipients\": [", absl::StrJoin(recipients, ", "), "]}");
}

absl::StatusOr<std::string> ConsoleService::PrepareAction(const Session& session,
                                                          const std::string& id,
                                                          absl::string_view body) {
  if (!IsCanonicalUuid(id)) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        "a referral id is a lowercase UUID", "id");
  }
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string kind, MemberString(object, "kind"));
  ASSIGN_OR_RETURN(std::string fields, MemberJson(object, "body"));
  ASSIGN_OR_RETURN(std::string destination, MemberString(object, "destinationNode"));
  if (fields.empty()) fields = "{}";
  const absl::Time now = clock_->Now();
  v1::PrepareRequest prepare;
  prepare.set_referral_id(id);
  prepare.set_destination_node(destination);
  std::string payload;
  v1::MessageKind message_kind;
  if (kind == "STATUS_CHANGE") {
    message_kind = v1::STATUS_CHANGE;
    client::Action action;
    action.kind = v1::STATUS_CHANGE;
    action.referral_id = id;
    action.destination_node = destination;
    RETURN_IF_ERROR(FromJson(fields, &action.change, "body"));
    if (!destination.empty()) action.change.mutable_forward()->set_to_node(destination);
    prepare.set_kind(v1::STATUS_CHANGE);
    auto prepared = relay_->Prepare(session, prepare);
    if (!prepared.ok()) return Relayed(session, prepared.status());
    auto change = client::BuildStatusChange(action, client::BodyTemplate(*prepared),
                                            v1::REFERRAL_STATE_UNSPECIFIED);
    if (!change.ok()) return InvalidField(change.status());
    if (!prepared->referral_key().empty()) {
      RETURN_IF_ERROR(SealStatusText(*change, SecretKey(prepared->referral_key())));
    }
    payload = change->SerializeAsString();
    ASSIGN_OR_RETURN(UnsignedAction unsigned_action,
                     MakeUnsigned(session, *prepared, message_kind, id, std::move(payload), now));
    return PreparedAnswer(std::move(unsigned_action));
  }
  if (kind == "PLACEMENT_CONFIRMATION") {
    message_kind = v1::PLACEMENT_CONFIRMATION;
    v1::PlacementConfirmation confirmation;
    RETURN_IF_ERROR(FromJson(fields, &confirmation, "body"));
    confirmation.set_referral_id(id);
    if (!confirmation.has_taken_in_charge_at()) {
      *confirmation.mutable_taken_in_charge_at() = client::ToTimestamp(now);
    }
    if (absl::Status valid = client::ValidateConfirmation(confirmation); !valid.ok()) {
      return InvalidField(valid);
    }
    prepare.set_kind(v1::PLACEMENT_CONFIRMATION);
    prepare.clear_destination_node();
    auto prepared = relay_->Prepare(session, prepare);
    if (!prepared.ok()) return Relayed(session, prepared.status());
    ASSIGN_OR_RETURN(
        UnsignedAction unsigned_action,
        MakeUnsigned(session, *prepared, message_kind, id, confirmation.SerializeAsString(), now));
    return PreparedAnswer(std::move(unsigned_action));
  }
  return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                      "kind must be STATUS_CHANGE or PLACEMENT_CONFIRMATION", "kind");
}

absl::StatusOr<std::string> ConsoleService::PrepareReferral(const Session& session,
                                                            absl::string_view body) {
  if (session.person.role != Role::kOperator) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                    "only hotline operators can submit a referral");
  }
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string json, MemberJson(object, "referral"));
  if (json.empty()) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        "field referral is required", "referral");
  }
  auto parsed = client::ParseReferralJson(json);
  if (!parsed.ok()) return InvalidField(parsed.status());
  v1::Referral referral = std::move(*parsed);
  if (absl::Status valid = client::ValidateReferral(referral); !valid.ok()) {
    return InvalidField(valid);
  }
  const std::string& own = session.person.node;
  if (!referral.referral_id().empty()) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        "field referral_id must be empty: the console makes the id", "referral_id");
  }
  if (referral.destination_node().empty() || referral.destination_node() == own) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        "field destination_node must name another node", "destination_node");
  }
  if (!referral.origin_node().empty() && referral.origin_node() != own) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                        absl::StrCat("field origin_node must be ", own), "origin_node");
  }
  referral.set_origin_node(own);
  const absl::Time now = clock_->Now();
  const v1::PrepareResponse header = client::NewReferralHeader(referral.destination_node(), now);
  referral.set_referral_id(header.headers(0).referral_id());
  // The special-category fields are sealed under a fresh key that only the
  // origin's node and the destination's will hold (PROTOCOL.md §11).
  SecretKey key = NewReferralKey();
  RETURN_IF_ERROR(SealReferral(referral, key));
  ASSIGN_OR_RETURN(UnsignedAction action,
                   MakeUnsigned(session, header, v1::REFERRAL, referral.referral_id(),
                                referral.SerializeAsString(), now));
  action.referral_key = key.bytes();
  return PreparedAnswer(std::move(action));
}

absl::StatusOr<std::string> ConsoleService::Submit(const Session& session, absl::string_view body) {
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string token, MemberString(object, "token"));
  std::vector<std::string> signatures;
  if (auto it = object.fields().find("signatures"); it != object.fields().end()) {
    if (!it->second.has_list_value()) {
      return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                          "signatures must be a list of base64 strings", "signatures");
    }
    for (const auto& v : it->second.list_value().values()) {
      if (!v.has_string_value()) {
        return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                            "signatures must be a list of base64 strings", "signatures");
      }
      signatures.push_back(v.string_value());
    }
  }
  ASSIGN_OR_RETURN(UnsignedAction action, pending_.Take(token, session.id));
  ASSIGN_OR_RETURN(std::vector<std::string> envelopes,
                   SignedEnvelopes(action, session.certificate_der, signatures));
  // Checked here first, so that a wrong signature is a plain answer and the
  // node sees only envelopes that verify.
  for (const std::string& envelope : envelopes) {
    auto verified = verifier_->Verify(envelope);
    if (!verified.ok()) {
      if (mir::ReasonOf(verified.status()) == v1::BAD_SIGNATURE) {
        return MirError(absl::StatusCode::kInvalidArgument, v1::BAD_SIGNATURE,
                        "a signature does not match what was prepared: nothing was sent");
      }
      return verified.status();
    }
  }
  v1::SubmitRequest request;
  for (std::string& envelope : envelopes) request.add_envelopes(std::move(envelope));
  request.set_referral_key(action.referral_key);
  auto submitted = relay_->Submit(session, request);
  if (!submitted.ok()) return Relayed(session, submitted.status());
  MIR_LOG(INFO) << "console submit by " << session.person.Uri() << " on referral "
                << submitted->referral_id() << ": " << v1::ReferralState_Name(submitted->state());
  return ToJson(*submitted);
}

absl::StatusOr<std::unique_ptr<WatchStream>> ConsoleService::Watch(const Session& session) {
  return relay_->Watch(session);
}

}  // namespace mir::console
