#ifndef MIR_FUZZ_FUZZ_ENV_H_
#define MIR_FUZZ_FUZZ_ENV_H_

// What the fuzz targets share: the protocol's test vectors
// (proto/testvectors/v1.txt, PROTOCOL.md §9). Their CA, author and node keys
// come from public RFC 8032 seeds, so a committed seed envelope verifies on
// every run and the fuzzer starts past the signature check. Everything here
// is built once and never freed; not thread-safe (libFuzzer runs one input
// at a time).

#include <string>

#include "absl/time/time.h"
#include "crypto/signer.h"
#include "mir/v1/envelope.pb.h"

namespace mir::fuzz {

// A test vector's value: hex-decoded, or as written for names ending in
// _text or _unix. Aborts the process if the file or the name is missing.
const std::string& Vector(const std::string& name);

// When every test-vector certificate is valid (verify_at_unix).
absl::Time VerifyAt();

// PEM text of a DER certificate, and of an Ed25519 private key from its seed.
std::string CertificatePem(const std::string& der);
std::string SeedKeyPem(const std::string& seed);

// mir://toscana/operator/anna and mir://nvn/node.
const Signer& Author();
const Signer& NationalNode();

// `envelope` with a fresh, valid signature over its (fuzzed) header and
// body, by the national node if the header names it as author, else by the
// test author. Lets the fuzzer reach every check after the signature. With
// `new_message_id`, a header that parses first gets a message id derived
// from `envelope`'s bytes, so that a store which has seen the seeds treats
// each distinct input as a new message rather than a duplicate.
std::string Resign(v1::Envelope envelope, bool new_message_id = false);

// Silences our log lines and protobuf's parse warnings: a fuzzer makes
// millions of them, and writing them would dominate the run.
void Quiet();

// A fresh directory under $TMPDIR (default /tmp), removed at exit unless
// MIR_FUZZ_KEEP is set (to look at the store a run left behind).
std::string TempDir(const std::string& name);

}  // namespace mir::fuzz

#endif  // MIR_FUZZ_FUZZ_ENV_H_
