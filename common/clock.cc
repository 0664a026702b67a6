#include "common/clock.h"

namespace mir {

const RealClock* RealClock::Get() {
  static const RealClock* const kClock = new RealClock();
  return kClock;
}

}  // namespace mir
