#include "bench/amqp_peer.h"

#ifdef MIR_BENCH_HAVE_AMQP
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <map>
#include <memory>
#endif

#include "absl/strings/str_cat.h"

namespace mir::bench {

#ifndef MIR_BENCH_HAVE_AMQP

bool AmqpClientAvailable() { return false; }

absl::StatusOr<std::vector<RunFigures>> RunAmqpPublish(int, const std::string&, const std::string&,
                                                       bool, const std::vector<int>&, int) {
  return absl::UnimplementedError("mir-bench was built without librabbitmq-dev");
}

#else

namespace {

constexpr amqp_channel_t kChannel = 1;

absl::Status RpcStatus(const amqp_rpc_reply_t& reply, const std::string& what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return absl::OkStatus();
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return absl::UnavailableError(
          absl::StrCat("amqp: ", what, ": ", amqp_error_string2(reply.library_error)));
    default:
      return absl::InternalError(absl::StrCat("amqp: ", what, ": server refused (method 0x",
                                              absl::Hex(reply.reply.id), ")"));
  }
}

struct ConnectionCloser {
  void operator()(amqp_connection_state_t_* conn) const {
    amqp_channel_close(conn, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
  }
};
using Connection = std::unique_ptr<amqp_connection_state_t_, ConnectionCloser>;

// A closed loop on one channel: up to `in_flight` publishes not yet
// confirmed. Delivery tags count publishes from 1 on the channel; an ack with
// `multiple` confirms every tag up to its own.
RunFigures Publish(amqp_connection_state_t conn, const std::string& queue, int in_flight, int count,
                   uint64_t* next_tag) {
  RunFigures figures;
  figures.in_flight = in_flight;
  Samples samples;
  std::map<uint64_t, SteadyClock::time_point> unconfirmed;
  const std::string body(1024, 'm');
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2;  // persistent
  const SteadyClock::time_point start = SteadyClock::now();
  int started = 0;
  auto give_up = [&](const std::string& error) {
    if (figures.first_error.empty()) figures.first_error = error;
    figures.failed = count - figures.completed;
  };
  while (figures.completed + figures.failed < count) {
    while (static_cast<int>(unconfirmed.size()) < in_flight && started < count) {
      unconfirmed[(*next_tag)++] = SteadyClock::now();
      ++started;
      const int rc =
          amqp_basic_publish(conn, kChannel, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()), 0,
                             0, &props, amqp_bytes_t{body.size(), const_cast<char*>(body.data())});
      if (rc != AMQP_STATUS_OK) {
        give_up(absl::StrCat("amqp: publish: ", amqp_error_string2(rc)));
        break;
      }
    }
    if (figures.failed > 0) break;
    amqp_frame_t frame;
    timeval timeout{30, 0};
    const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &timeout);
    if (rc != AMQP_STATUS_OK) {
      give_up(absl::StrCat("amqp: waiting for confirms: ", amqp_error_string2(rc)));
      break;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_number_t id = frame.payload.method.id;
    if (id != AMQP_BASIC_ACK_METHOD && id != AMQP_BASIC_NACK_METHOD) {
      give_up(absl::StrCat("amqp: unexpected method 0x", absl::Hex(id)));
      break;
    }
    uint64_t tag = 0;
    bool multiple = false;
    if (id == AMQP_BASIC_ACK_METHOD) {
      const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      tag = ack->delivery_tag;
      multiple = ack->multiple != 0;
    } else {
      const auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      tag = nack->delivery_tag;
      multiple = nack->multiple != 0;
    }
    const SteadyClock::time_point now = SteadyClock::now();
    auto end = multiple ? unconfirmed.upper_bound(tag) : unconfirmed.find(tag);
    auto begin = multiple ? unconfirmed.begin() : end;
    if (!multiple && end != unconfirmed.end()) ++end;
    for (auto it = begin; it != end; ++it) {
      if (id == AMQP_BASIC_ACK_METHOD) {
        ++figures.completed;
        samples.Add(std::chrono::duration<double, std::micro>(now - it->second).count());
      } else {
        ++figures.failed;
        if (figures.first_error.empty()) figures.first_error = "amqp: basic.nack";
      }
    }
    unconfirmed.erase(begin, end);
    amqp_maybe_release_buffers(conn);
  }
  figures.seconds = SecondsSince(start);
  FillPercentiles(samples, &figures);
  return figures;
}

}  // namespace

bool AmqpClientAvailable() { return true; }

absl::StatusOr<std::vector<RunFigures>> RunAmqpPublish(int port, const std::string& ca_file,
                                                       const std::string& queue, bool quorum,
                                                       const std::vector<int>& in_flight,
                                                       int count) {
  Connection conn(amqp_new_connection());
  amqp_socket_t* socket = nullptr;
  if (ca_file.empty()) {
    socket = amqp_tcp_socket_new(conn.get());
  } else {
    socket = amqp_ssl_socket_new(conn.get());
    if (socket == nullptr ||
        amqp_ssl_socket_set_cacert(socket, ca_file.c_str()) != AMQP_STATUS_OK) {
      return absl::InternalError("amqp: TLS socket or CA file");
    }
    amqp_ssl_socket_set_verify_peer(socket, 1);
    amqp_ssl_socket_set_verify_hostname(socket, 1);
  }
  if (socket == nullptr) return absl::InternalError("amqp: no socket");
  timeval connect_timeout{10, 0};
  if (const int rc = amqp_socket_open_noblock(socket, "localhost", port, &connect_timeout);
      rc != AMQP_STATUS_OK) {
    return absl::UnavailableError(absl::StrCat("amqp: connect: ", amqp_error_string2(rc)));
  }
  if (absl::Status s = RpcStatus(
          amqp_login(conn.get(), "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
          "login");
      !s.ok()) {
    return s;
  }
  amqp_channel_open(conn.get(), kChannel);
  if (absl::Status s = RpcStatus(amqp_get_rpc_reply(conn.get()), "channel.open"); !s.ok()) {
    return s;
  }
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes(quorum ? "quorum" : "classic");
  const amqp_table_t arguments{1, &type};
  amqp_queue_declare(conn.get(), kChannel, amqp_cstring_bytes(queue.c_str()), 0, /*durable=*/1, 0,
                     0, arguments);
  if (absl::Status s = RpcStatus(amqp_get_rpc_reply(conn.get()), "queue.declare"); !s.ok()) {
    return s;
  }
  amqp_confirm_select(conn.get(), kChannel);
  if (absl::Status s = RpcStatus(amqp_get_rpc_reply(conn.get()), "confirm.select"); !s.ok()) {
    return s;
  }
  uint64_t next_tag = 1;
  const RunFigures warm = Publish(conn.get(), queue, 16, 200, &next_tag);
  if (warm.completed == 0) return absl::UnavailableError(warm.first_error);
  std::vector<RunFigures> runs;
  for (int n : in_flight) {
    runs.push_back(Publish(conn.get(), queue, n, count, &next_tag));
    if (runs.back().completed == 0) break;
  }
  return runs;
}

#endif  // MIR_BENCH_HAVE_AMQP

}  // namespace mir::bench
