// A new Verifier shared at once by several threads, its certificate cache
// empty: every thread verifies through OpenSSL with the one CA certificate.
// For ThreadSanitizer (scripts/test-tsan.sh; built only there): before
// Verifier::FromCaPem filled the CA's extension cache itself, OpenSSL 3.0
// filled it on first use and TSan reported threads racing on it.
#include <string>
#include <thread>
#include <vector>

#include "tests/crypto/crypto_fixtures.h"

namespace mir::testing {
namespace {

TEST(VerifierConcurrencyTest, ANewVerifierServesManyThreadsAtOnce) {
  auto signer = LoadSigner("toscana/operator");
  ASSERT_NE(signer, nullptr);
  const std::string bytes =
      SignRaw(*signer, MakeHeader(v1::REFERRAL, "toscana", "nvn", absl::Now()), "body");
  for (int round = 0; round < 50; ++round) {
    auto verifier = Verifier::FromCaPemFile(PkiPath("ca.crt"), RealClock::Get());
    ASSERT_OK(verifier);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      // The body is no referral, so Verify refuses it, but only after the
      // certificate checks that matter here.
      threads.emplace_back([&] { (void)(*verifier)->Verify(bytes); });
    }
    for (std::thread& t : threads) t.join();
  }
}

}  // namespace
}  // namespace mir::testing
