#ifndef MIR_TESTS_BROKER_NETWORK_H_
#define MIR_TESTS_BROKER_NETWORK_H_

// Helpers for tests that run real brokers over loopback mutual TLS with the
// test PKI: node options, signed messages, a raw Exchange client, waiting.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "broker/config.h"
#include "crypto/signer.h"
#include "grpcpp/server.h"
#include "mir/v1/exchange.grpc.pb.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/status_change.pb.h"
#include "tests/testing/test_env.h"

namespace mir::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Keeps a loopback port bound but not listening, so that no other process
// (a test running beside this one picks its ports the same way) takes it
// while the node meant for it is down: connections to it are refused, as
// to a node that is not running. Release before something listens there.
class PortHold {
 public:
  PortHold();                   // a free port
  explicit PortHold(int port);  // `port`, if it can be bound now; else holds nothing
  ~PortHold() { Release(); }
  PortHold(PortHold&& other) noexcept;
  PortHold& operator=(PortHold&& other) noexcept;
  int port() const { return port_; }
  void Release();

 private:
  void Bind(int port);
  int fd_ = -1;
  int port_ = 0;
};

// Options for `node` listening on `port`, with its database in `dir` and
// certificates from the test PKI. Fast retry settings for tests.
broker::BrokerOptions NodeOptions(const std::string& node, int port, const std::string& dir);

std::string Address(int port);

// A copy of the test PKI's folder of encryption certificates as `dir`/enc,
// less `skip` (a file name, e.g. "lombardia.crt"); returns its path. For a
// node that must lack, or gain, a node's certificate.
std::string CopyEncryptionCertificates(const std::string& dir, const std::string& skip = "");

// Loads "<node>/<role>" from the test PKI (e.g. "toscana/operator").
std::unique_ptr<Signer> PkiSigner(const std::string& prefix);

// Test referrals are sealed under a key derived from their id (and a nonce
// derived from it: the same id signs the same bytes), so that tests can
// hand the key to Node::Submit.
std::string TestReferralKey(const std::string& referral_id);
void SealForTest(v1::Referral& referral);

// A fictional referral from `origin` to `destination`, signed by `op`.
std::string SignReferral(const Signer& op, const std::string& referral_id,
                         const std::string& destination,
                         v1::Urgency urgency = v1::URGENCY_ORDINARY);

// A status change (or, with to_state PLACEMENT_CONFIRMED, a placement
// confirmation) signed by `author`, for `recipient`, with `sequence`.
std::string SignTransition(const Signer& author, const std::string& referral_id,
                           v1::ReferralState to_state, const std::string& recipient,
                           uint64_t sequence);

// A routing on (STATUS_CHANGE to SUBMITTED, PROTOCOL.md §10.6) of the
// REFERRAL envelope `original` to `to_node`, signed by `author`, for
// `recipient`, with `sequence` and the given stream positions.
std::string SignForward(const Signer& author, const std::string& referral_id,
                        const std::string& to_node, const std::string& original,
                        const std::vector<std::pair<std::string, uint64_t>>& streams,
                        const std::string& recipient, uint64_t sequence);

// The next sequence number for `node`'s stream on `referral_id` in `store`.
uint64_t NextSequence(storage::Store& store, const std::string& referral_id,
                      const std::string& node);

// Polls `done` until it holds or `timeout` passes; true if it held. A bound on
// waiting, not a performance assertion.
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30));

// The state of `referral_id` at `store`, or UNSPECIFIED if unknown.
v1::ReferralState StateAt(storage::Store& store, const std::string& referral_id);

// Counts outbox entries in `state`.
int OutboxCount(storage::Store& store, storage::OutboxState state);

// A raw Exchange client presenting the PKI certificate `prefix` (e.g.
// "toscana/node"), trusting `ca` (default: the test CA).
class ExchangeClient {
 public:
  ExchangeClient(int port, const std::string& prefix, const std::string& ca = "ca.crt");
  // Deliver `envelope`; the receipt bytes or the refusal (with its reason).
  absl::StatusOr<std::string> Deliver(const std::string& envelope);
  // DeliverBatch (PROTOCOL.md §6.2.1) of `envelopes`, in order; the answer
  // or the refusal of the whole call.
  absl::StatusOr<v1::DeliverBatchResponse> DeliverBatch(const std::vector<std::string>& envelopes);
  // Sends raw request bytes, e.g. a malformed DeliverRequest.
  std::unique_ptr<v1::Exchange::Stub>& stub() { return stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
};

// A stand-in for a peer node, for tests of the sending side: serves
// Exchange.Deliver on `port` with `node`'s certificate from the test PKI and
// answers each envelope with `node`'s valid receipt, after `gate` opens (it
// starts open). Records the message ids it was given, in arrival order.
class ReceiptingPeer {
 public:
  ReceiptingPeer(const std::string& node, int port);
  ~ReceiptingPeer();
  // Holds every Deliver until Open(); calls already waiting go on at Open().
  void Close();
  void Open();
  std::vector<std::string> received() const;
  int calls() const;
  // Deliver calls held by Close() right now.
  int waiting() const;

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

// A plaintext (no TLS) client, which the broker must never let in.
std::unique_ptr<v1::Exchange::Stub> PlaintextStub(int port);

}  // namespace mir::testing

#endif  // MIR_TESTS_BROKER_NETWORK_H_
