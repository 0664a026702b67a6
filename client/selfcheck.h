#ifndef MIR_CLIENT_SELFCHECK_H_
#define MIR_CLIENT_SELFCHECK_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace mir::client {

// Signs a fictional referral envelope as the Tuscany operator of the
// development PKI in `pki_dir`, verifies it against the PKI's CA, checks that
// a one-bit tampered copy is refused, and reports each step on `out`.
absl::Status RunSelfCheck(const std::string& pki_dir, std::ostream& out);

}  // namespace mir::client

#endif  // MIR_CLIENT_SELFCHECK_H_
