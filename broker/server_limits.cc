#include "broker/server_limits.h"

#include "grpcpp/resource_quota.h"

namespace mir::broker {

void ApplyServerLimits(grpc::ServerBuilder& builder, const BrokerOptions& options) {
  // The builder takes its own reference to the quota, so a local is enough.
  grpc::ResourceQuota quota("mir-broker-server");
  quota.Resize(options.memory_quota_bytes);
  builder.SetResourceQuota(quota);
}

}  // namespace mir::broker
