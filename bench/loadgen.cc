#include "bench/loadgen.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace mir::bench {
namespace {

constexpr int kMaxFailures = 100;

class Runner {
 public:
  Runner(int total, const Operation& op) : total_(total), op_(op) {}

  // Starts the first operation on `lane`, if any is left.
  void Launch(int lane) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_ || started_ >= total_) return;
      ++started_;
      ++active_;
    }
    Start(lane);
  }

  // Waits until every operation finished or `timeout`; then stops starting
  // new ones and waits for those in flight (each has its own deadline).
  RunFigures Wait(int in_flight, SteadyClock::time_point start, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto all_done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return (started_ >= total_ || stop_) && active_ == 0;
    };
    mu_.AwaitWithTimeout(absl::Condition(&all_done), timeout);
    stop_ = true;
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return active_ == 0; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Minutes(2))) {
      // Callbacks still outstanding would run into freed state: give up loudly.
      std::fprintf(stderr, "mir-bench: %d operations never finished; giving up\n", active_);
      std::_Exit(3);
    }
    RunFigures figures;
    figures.in_flight = in_flight;
    figures.seconds = SecondsSince(start);
    figures.completed = completed_;
    figures.failed = failed_;
    figures.first_error = first_error_;
    FillPercentiles(samples_, &figures);
    return figures;
  }

 private:
  // Runs one operation on `lane`, which is counted in active_. Its callback
  // either claims the next operation for the lane or retires the lane, in one
  // critical section: once active_ may reach 0, Wait() can return and this
  // Runner be destroyed, so a retiring callback touches nothing after it.
  void Start(int lane) {
    const SteadyClock::time_point start = SteadyClock::now();
    op_(lane, [this, lane, start](absl::Status status) {
      const double micros = MicrosSince(start);
      bool next = false;
      {
        absl::MutexLock lock(&mu_);
        if (status.ok()) {
          ++completed_;
          samples_.Add(micros);
        } else {
          if (first_error_.empty()) first_error_ = status.ToString();
          if (++failed_ > kMaxFailures) stop_ = true;
        }
        next = !stop_ && started_ < total_;
        if (next) {
          ++started_;
        } else {
          --active_;
        }
      }
      if (next) Start(lane);
    });
  }

  const int total_;
  const Operation& op_;
  absl::Mutex mu_;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  int completed_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  Samples samples_;
};

}  // namespace

RunFigures RunClosedLoop(int in_flight, int total, const Operation& op, absl::Duration timeout) {
  Runner runner(total, op);
  const SteadyClock::time_point start = SteadyClock::now();
  for (int lane = 0; lane < in_flight; ++lane) runner.Launch(lane);
  return runner.Wait(in_flight, start, timeout);
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(64 << 20);
    auto channel = grpc::CreateCustomChannel(address, credentials, args);
    channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    channels.push_back(std::move(channel));
  }
  return channels;
}

}  // namespace mir::bench
