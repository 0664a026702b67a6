#include "broker/health.h"

#include "common/log.h"

namespace mir::broker {
namespace {

class CheckingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CheckingFactory(StoreHealth* health) : health_(health) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    health_->Check();
    return nullptr;  // nothing to intercept: the call proceeds untouched
  }

 private:
  StoreHealth* const health_;
};

}  // namespace

void StoreHealth::Attach(grpc::HealthCheckServiceInterface* health) {
  health_.store(health);
  reported_.store(false);
  Check();
}

void StoreHealth::Check() {
  if (!store_->failed() || reported_.load()) return;
  grpc::HealthCheckServiceInterface* health = health_.load();
  if (health == nullptr || reported_.exchange(true)) return;
  health->SetServingStatus(false);
  MIR_LOG(ERROR) << "store has fail-stopped: health is NOT_SERVING until the node restarts";
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
StoreHealth::CheckOnEveryCall() {
  return std::make_unique<CheckingFactory>(this);
}

}  // namespace mir::broker
