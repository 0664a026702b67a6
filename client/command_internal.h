#ifndef MIR_CLIENT_COMMAND_INTERNAL_H_
#define MIR_CLIENT_COMMAND_INTERNAL_H_

// Shared by commands.cc (dispatch, help, connection flags),
// command_table.cc (the subcommands), referral_flags.cc (submit's flags),
// report_commands.cc (`mirctl report ...`) and service_commands.cc
// (`mirctl service ...`).

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/commands.h"
#include "client/flags.h"
#include "client/referrals_client.h"
#include "client/values.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/report.pb.h"
#include "mir/v1/service_request.pb.h"

namespace mir::client {

// What a subcommand's run function gets.
struct Invocation {
  const ParsedFlags& flags;
  const Environment& env;
  std::ostream& out;
  std::ostream& err;  // notices on the way (a resend); the final error is the caller's
  bool json = false;  // --json: protobuf JSON instead of tables
  std::string command;

  // Resolves --node/--pki/--as/--cert/--key/--ca/--timeout (and MIR_*), then
  // connects; resends of a lost Submit are told on `err`.
  absl::StatusOr<std::unique_ptr<ReferralsClient>> Connect() const;
  // The same, for the Reports service (a lost Record is resent, told on `err`).
  absl::StatusOr<std::unique_ptr<ReportsClient>> ConnectReports() const;
  // The same, for the ServiceRequests service (a lost Create is resent).
  absl::StatusOr<std::unique_ptr<ServiceRequestsClient>> ConnectServices() const;
};

struct Command {
  std::string name;      // one word, or two for a group's command ("report record")
  std::string synopsis;  // after "mirctl NAME ", e.g. "ID --reason REASON [--text TEXT]"
  std::string summary;   // one line for `mirctl --help`
  std::string details;   // paragraphs for `mirctl NAME --help`
  std::vector<FlagSpec> flags;
  size_t min_args = 0;  // positional arguments
  size_t max_args = 0;
  std::function<absl::Status(const Invocation&)> run;
};

const std::vector<Command>& CommandTable();

// Commands named by two words share the first, a group: `mirctl report`
// alone, or with --help, lists the group's commands. A group may hold a
// group of its own ("service roster"), whose commands have three words.
struct CommandGroup {
  std::string name;     // "report", "service roster"
  std::string details;  // paragraphs for `mirctl report --help`
};
const std::vector<CommandGroup>& CommandGroups();

// --node, --pki, --as, --cert, --key, --ca, --json, --timeout, --help.
const std::vector<FlagSpec>& GlobalFlags();

// Flags, then MIR_NODE / MIR_CERT / MIR_KEY / MIR_CA / MIR_PKI + MIR_AS.
absl::StatusOr<ConnectionOptions> ResolveConnection(const ParsedFlags& flags,
                                                    const Environment& env);

// A problem with how mirctl was called (exit code kExitUsage).
absl::Status UsageError(absl::string_view sentence);
bool IsUsageError(const absl::Status& status);

// "held, person-absent, ...": an enum's values as its flag takes them.
template <typename E>
std::string Alternatives() {
  return JoinAlternatives(ShortEnumNames(google::protobuf::GetEnumDescriptor<E>()));
}

// The enum value `text` names, for --`flag`; UsageError naming the flag.
template <typename E>
absl::StatusOr<E> EnumFlag(const std::string& text, const std::string& flag) {
  auto value = ParseEnum<E>(text, "--" + flag);
  if (!value.ok()) return UsageError(value.status().message());
  return *value;
}

// --`flag`, which must be given, as an enum; UsageError listing its values.
template <typename E>
absl::StatusOr<E> RequiredEnum(const ParsedFlags& flags, const std::string& flag) {
  if (!flags.Has(flag)) {
    return UsageError(absl::StrCat("--", flag, " is required: ", Alternatives<E>()));
  }
  return EnumFlag<E>(flags.Get(flag), flag);
}

// An id argument: a UUID, taken in any case and returned in lower case;
// otherwise UsageError "'<text>' is not <what> (they look like <example>)".
absl::StatusOr<std::string> UuidArg(const std::string& text, absl::string_view what,
                                    absl::string_view example);

// submit's field flags (--person-code, --urgency, --need, ...), each mapped to
// a mir.v1.Referral field.
const std::vector<FlagSpec>& ReferralFieldFlags();
// True if any of them was given.
bool HasReferralFieldFlags(const ParsedFlags& flags);
// Sets the fields named by the given flags; UsageError naming the flag on a bad value.
absl::Status ApplyReferralFlags(const ParsedFlags& flags, v1::Referral& referral);

// `list`'s filters as a ListRequest; UsageError naming the flag.
absl::StatusOr<v1::ListRequest> ListRequestFromFlags(const ParsedFlags& flags);

// `mirctl report record|list|show|triage|link` (report_commands.cc), in the
// order help lists them, and their group.
std::vector<Command> ReportCommands();
CommandGroup ReportGroup();

// The report's flags as a Record request: required enums, code lists
// (IsIso639_3, IsItalianProvince) and lengths checked here, so that a wrong
// value is a usage error and nothing is sent. --description-file is read
// through env.read_file; --id, or else a fresh UUID v7. UsageError naming
// the flag, never quoting free text.
absl::StatusOr<v1::RecordReportRequest> RecordRequestFromFlags(const ParsedFlags& flags,
                                                               const Environment& env);
// `report list`'s filters.
absl::StatusOr<v1::ListReportsRequest> ListReportsRequestFromFlags(const ParsedFlags& flags);
// `report triage ID --triage T [--route-to NODE]`.
absl::StatusOr<v1::TriageReportRequest> TriageRequestFromFlags(const ParsedFlags& flags);

// `mirctl service request|list|show|assign|schedule|done|cancel` and
// `mirctl service roster list|put` (service_commands.cc), in the order help
// lists them, and their groups ("service", "service roster").
std::vector<Command> ServiceCommands();
std::vector<CommandGroup> ServiceGroups();

// `service request`'s flags as a Create request: required enums, codes
// (IsIso639_3, IsItalianProvince), the window (after --from, not past by
// env.clock) and lengths checked here, so that a wrong value is a usage
// error and nothing is sent; --id, or else a fresh UUID v7. UsageError
// naming the flag, never quoting free text.
absl::StatusOr<v1::CreateServiceRequestRequest> CreateServiceRequestFromFlags(
    const ParsedFlags& flags, const Environment& env);
// `service list`'s filters.
absl::StatusOr<v1::ListServiceRequestsRequest> ListServiceRequestsRequestFromFlags(
    const ParsedFlags& flags);
// `service roster put CODE --type T ...`.
absl::StatusOr<v1::PutRosterEntryRequest> PutRosterEntryRequestFromFlags(const ParsedFlags& flags);

}  // namespace mir::client

#endif  // MIR_CLIENT_COMMAND_INTERNAL_H_
