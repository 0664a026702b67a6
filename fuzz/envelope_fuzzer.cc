// Envelope parsing and verification on arbitrary bytes (PROTOCOL.md §4):
// Verifier::Verify, then, for what verifies, the body as the broker reads
// it (EventFromEnvelope, AnswerEventsFromEnvelope) and the receipt check a
// sender makes. Each input also runs once re-signed (fuzz_env.h), so the
// checks after the signature see fuzzed headers and bodies too. Must never
// crash, leak or hit UB.

#include <cstddef>
#include <cstdint>
#include <string>

#include "broker/envelope_events.h"
#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "crypto/verifier.h"
#include "fuzz/fuzz_env.h"

namespace {

const mir::Verifier* verifier = nullptr;

void Check(const std::string& bytes) {
  auto verified = verifier->Verify(bytes);
  if (verified.ok()) {
    (void)mir::broker::EventFromEnvelope(*verified, bytes, *verifier);
    (void)mir::broker::AnswerEventsFromEnvelope(*verified, bytes);
  }
  // As a receipt for the test-vector envelope, from nvn.
  (void)mir::VerifyReceipt(*verifier, bytes, "nvn",
                           verified.ok() ? verified->header.message_id() : "m",
                           mir::fuzz::Vector("envelope_sha256"));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mir::fuzz::Quiet();
  static mir::FakeClock clock(mir::fuzz::VerifyAt());
  auto v = mir::Verifier::FromCaPem(
      mir::fuzz::CertificatePem(mir::fuzz::Vector("ca_certificate_der")), &clock);
  if (!v.ok()) __builtin_trap();
  verifier = v->release();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  mir::v1::Envelope envelope;
  if (envelope.ParseFromString(bytes)) Check(mir::fuzz::Resign(envelope));
  return 0;
}
