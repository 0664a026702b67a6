#ifndef MIR_CLIENT_REPORTS_CLIENT_H_
#define MIR_CLIENT_REPORTS_CLIENT_H_

// The staff side of the Reports service (proto/mir/v1/report.proto): an
// operator records the citizen reports their hotline takes, triages them,
// sends them on to another node and links them to a referral, over mutual
// TLS with their own certificate (the same channel as ReferralsClient).
// Nothing is signed here: the node signs each report event itself.
//
// Every error is an absl::Status whose message is one plain sentence naming
// ids only, never a report's contents; refusals by the node keep their
// ErrorInfo reason (ReasonOf) and are marked IsFromNode.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/node_channel.h"
#include "crypto/identity.h"
#include "mir/v1/report.grpc.pb.h"

namespace mir::client {

// Thread-compatible: one call at a time.
class ReportsClient {
 public:
  // As ReferralsClient::Connect: checks the files, prepares a channel, does
  // not contact the node.
  static absl::StatusOr<std::unique_ptr<ReportsClient>> Connect(const ConnectionOptions& options);

  // The person the certificate speaks for.
  const Identity& identity() const { return node_.signer->identity(); }
  const std::string& address() const { return options_.address; }

  // Records a report under request.report_id (required: a UUID the caller
  // made, so that a resend is recognised). When the answer is lost the same
  // request is sent again, up to options.submit_attempts times within
  // options.timeout: the node answers a repeat with its first answer. If no
  // answer ever comes, the error says the report may be recorded and to
  // check with 'mirctl report show ID'.
  absl::StatusOr<v1::ReportView> Record(const v1::RecordReportRequest& request);
  // Sent once: a lost answer is reported, not retried (a second triage or
  // link is refused as INVALID_TRANSITION even when the first landed).
  absl::StatusOr<v1::ReportView> Triage(const v1::TriageReportRequest& request);
  absl::StatusOr<v1::ReportView> Link(const v1::LinkReportRequest& request);
  absl::StatusOr<v1::ListReportsResponse> List(const v1::ListReportsRequest& request);
  absl::StatusOr<v1::ReportView> Get(const v1::GetReportRequest& request);

 private:
  ReportsClient(ConnectionOptions options, NodeChannel node);

  // One call answered within `wait`; the raw gRPC status in `*raw` if set.
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(Rpc rpc, absl::Duration wait, grpc::Status* raw = nullptr);

  const ConnectionOptions options_;
  const NodeChannel node_;
  const std::unique_ptr<v1::Reports::Stub> stub_;
};

}  // namespace mir::client

#endif  // MIR_CLIENT_REPORTS_CLIENT_H_
