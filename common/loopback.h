#ifndef MIR_COMMON_LOOPBACK_H_
#define MIR_COMMON_LOOPBACK_H_

// Loopback helpers for the tools and tests that start brokers on this host.

namespace mir {

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none was found).
int FreeLoopbackPort();

// True once something accepts TCP connections on 127.0.0.1:`port`.
bool LoopbackListening(int port);

}  // namespace mir

#endif  // MIR_COMMON_LOOPBACK_H_
