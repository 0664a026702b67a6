#ifndef MIR_BROKER_HEALTH_H_
#define MIR_BROKER_HEALTH_H_

#include <atomic>
#include <memory>

#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/support/server_interceptor.h"
#include "storage/store.h"

namespace mir::broker {

// Makes the gRPC health service tell the truth about the store. Once the
// node's store has fail-stopped (storage/store.h: a failed commit or sync;
// every later write is refused until the node restarts), the server reports
// NOT_SERVING, so monitors and load balancers see a node that cannot take
// work, and it stays so until the restart.
//
// Check() runs at the start of every call (the interceptor factory below,
// which adds no interceptor to the call) and from the broker's periodic
// loop: a health check therefore always sees a failure that happened before
// it, including one on the sender's path. Thread-safe.
class StoreHealth {
 public:
  // `store` must outlive this object.
  explicit StoreHealth(const storage::Store* store) : store_(store) {}

  // Where to report; `health` must outlive this object or be detached with
  // nullptr. Checks at once.
  void Attach(grpc::HealthCheckServiceInterface* health);

  // Reports NOT_SERVING if the store has failed. One atomic load when it has not.
  void Check();

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators: calls
  // Check() as each call starts.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> CheckOnEveryCall();

 private:
  const storage::Store* const store_;
  std::atomic<grpc::HealthCheckServiceInterface*> health_{nullptr};
  std::atomic<bool> reported_{false};
};

}  // namespace mir::broker

#endif  // MIR_BROKER_HEALTH_H_
