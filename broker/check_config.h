#ifndef MIR_BROKER_CHECK_CONFIG_H_
#define MIR_BROKER_CHECK_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mir::broker {

// `mir-broker --check-config FILE`: loads the config as a start would
// (LoadConfigFile, every field's rules) and then reads every file it names,
// in this order, the error naming the field:
//   ca_certificate      a PEM CA certificate
//   node_certificate,   exist, belong together, the certificate carries
//   node_key            mir://<node_id>/node, chains to the CA, valid at `now`
//   database_path       its folder exists
//   privacy.*           encryption key pairs and certificates, the
//                       certificates folder, the KEK files (mode 0600)
//   registry_file       verifies against the CA (PROTOCOL.md §12)
// Starts nothing, opens no database, listens on nothing.
absl::Status CheckConfig(const std::string& path, absl::Time now);

}  // namespace mir::broker

#endif  // MIR_BROKER_CHECK_CONFIG_H_
