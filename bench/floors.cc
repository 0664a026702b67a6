#include "bench/floors.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/loadgen.h"
#include "broker/envelope_events.h"
#include "broker/tls.h"
#include "client/credentials.h"
#include "common/clock.h"
#include "crypto/openssl_util.h"
#include "crypto/sealed_referral.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"
#include "echo.grpc.pb.h"  // bench/echo.proto
#include "grpcpp/server_builder.h"
#include "mir/v1/referral.pb.h"

namespace mir::bench {
namespace {

using crypto_internal::MdCtxPtr;
using crypto_internal::PkeyPtr;

// Runs `op` repeatedly for about `each` and returns operations per second.
template <typename Op>
double PerSecond(absl::Duration each, Op op) {
  const SteadyClock::time_point start = SteadyClock::now();
  const double budget = absl::ToDoubleSeconds(each);
  int64_t n = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 64; ++i) op();
    n += 64;
    elapsed = SecondsSince(start);
  } while (elapsed < budget);
  return static_cast<double>(n) / elapsed;
}

Ed25519Floor OpenSslFloor(const std::string& message, absl::Duration each) {
  Ed25519Floor floor{"OpenSSL " OPENSSL_VERSION_STR};
  unsigned char seed[32];
  RAND_bytes(seed, sizeof(seed));
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof(seed)));
  unsigned char raw_public[32];
  size_t public_len = sizeof(raw_public);
  EVP_PKEY_get_raw_public_key(key.get(), raw_public, &public_len);
  PkeyPtr public_key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw_public, public_len));
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  // As crypto/signer.cc and crypto/verifier.cc do: a fresh context per message.
  auto sign = [&] {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    sig_len = sizeof(sig);
    EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get());
    EVP_DigestSign(ctx.get(), sig, &sig_len, data, message.size());
  };
  floor.sign_per_s = PerSecond(each, sign);
  int bad = 0;
  auto verify = [&] {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, public_key.get());
    if (EVP_DigestVerify(ctx.get(), sig, sig_len, data, message.size()) != 1) ++bad;
  };
  floor.verify_per_s = PerSecond(each, verify);
  if (bad > 0) floor.library += " (VERIFY FAILED)";
  return floor;
}

Ed25519Floor SodiumFloor(const std::string& message, absl::Duration each) {
  Ed25519Floor floor{absl::StrCat("libsodium ", sodium_version_string())};
  if (sodium_init() < 0) return floor;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  unsigned char sig[crypto_sign_BYTES];
  floor.sign_per_s =
      PerSecond(each, [&] { crypto_sign_detached(sig, nullptr, data, message.size(), sk); });
  int bad = 0;
  floor.verify_per_s = PerSecond(each, [&] {
    if (crypto_sign_verify_detached(sig, data, message.size(), pk) != 0) ++bad;
  });
  if (bad > 0) floor.library += " (VERIFY FAILED)";
  return floor;
}

struct SqliteClose {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status s = absl::InternalError(absl::StrCat(sql, ": ", error ? error : "?"));
    sqlite3_free(error);
    return s;
  }
  return absl::OkStatus();
}

// `commits` transactions of `rows` 1 KiB rows each; fills rate and latency.
absl::Status SqlitePhase(const std::string& path, int commits, int rows, double* per_s, double* p50,
                         double* p99) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) {
    sqlite3_close(raw);
    return absl::InternalError("cannot open " + path);
  }
  std::unique_ptr<sqlite3, SqliteClose> db(raw);
  // The store's durability settings (docs/STORAGE.md), SQLite's own checkpointing.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                          "CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB NOT NULL)"}) {
    if (absl::Status s = Exec(db.get(), sql); !s.ok()) return s;
  }
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db.get(), "INSERT INTO t(payload) VALUES (?1)", -1, &insert, nullptr);
  const std::string payload(1024, 'p');
  Samples latency;
  const SteadyClock::time_point start = SteadyClock::now();
  for (int c = 0; c < commits; ++c) {
    const SteadyClock::time_point t = SteadyClock::now();
    absl::Status s = Exec(db.get(), "BEGIN IMMEDIATE");
    for (int r = 0; r < rows && s.ok(); ++r) {
      sqlite3_bind_blob(insert, 1, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) s = absl::InternalError("insert failed");
      sqlite3_reset(insert);
    }
    if (s.ok()) s = Exec(db.get(), "COMMIT");
    if (!s.ok()) {
      sqlite3_finalize(insert);
      return s;
    }
    latency.Add(MicrosSince(t));
  }
  const double seconds = SecondsSince(start);
  sqlite3_finalize(insert);
  *per_s = commits / seconds;
  *p50 = latency.Percentile(0.5);
  *p99 = latency.Percentile(0.99);
  return absl::OkStatus();
}

// 1 KiB of notes and the rest of a fictional referral: the body the
// operator clients sign.
std::string ReferralBody(const std::string& referral_id) {
  v1::Referral r;
  r.set_referral_id(referral_id);
  r.set_origin_node("toscana");
  r.set_destination_node("nvn");
  r.set_person_code("BENCH-0000");
  r.set_urgency(v1::URGENCY_ORDINARY);
  r.mutable_consent()->set_given(true);
  r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  r.set_notes(std::string(1024, 'n'));
  // Sealed as mirctl seals it: the sealing is part of the client's cost.
  if (!SealReferral(r, NewReferralKey()).ok()) return "";
  return r.SerializeAsString();
}

class EchoService final : public mir::bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const EchoMessage* request,
                                 EchoMessage* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

std::vector<Ed25519Floor> MeasureEd25519(size_t message_bytes, absl::Duration each) {
  const std::string message(message_bytes, 'm');
  return {OpenSslFloor(message, each), SodiumFloor(message, each)};
}

absl::StatusOr<EnvelopeCrypto> MeasureEnvelopeCrypto(const Pki& pki, absl::Duration each) {
  auto signer =
      Signer::FromPemFiles(pki.Path("toscana/operator.key"), pki.Path("toscana/operator.crt"));
  if (!signer.ok()) return signer.status();
  auto verifier = Verifier::FromCaPemFile(pki.Path("ca.crt"), RealClock::Get());
  if (!verifier.ok()) return verifier.status();
  v1::EnvelopeHeader header;
  header.set_message_id("00000000-0000-4000-8000-000000000000");
  header.set_kind(v1::REFERRAL);
  header.set_recipient_node("nvn");
  *header.mutable_created_at() = broker::ToProtoTime(absl::Now());
  header.set_referral_id("00000000-0000-4000-8000-000000000001");
  header.set_sequence(1);
  const std::string body = ReferralBody(header.referral_id());
  EnvelopeCrypto out;
  std::string envelope;
  out.sign_envelope_per_s =
      PerSecond(each, [&] { envelope = *(*signer)->SignEnvelope(header, body); });
  int bad = 0;
  out.verify_envelope_per_s = PerSecond(each, [&] {
    if (!(*verifier)->Verify(envelope).ok()) ++bad;
  });
  if (bad > 0) return absl::InternalError("the bench's own envelope did not verify");
  return out;
}

absl::StatusOr<SqliteFloor> MeasureSqlite(const std::string& dir, int single_commits,
                                          int grouped_commits) {
  SqliteFloor floor;
  floor.fdatasync_us = FdatasyncMicros(dir);
  const std::string one = dir + "/floor-1.db", many = dir + "/floor-64.db";
  absl::Status s = SqlitePhase(one, single_commits, 1, &floor.commits_per_s_1,
                               &floor.commit_p50_us_1, &floor.commit_p99_us_1);
  if (s.ok()) {
    s = SqlitePhase(many, grouped_commits, 64, &floor.commits_per_s_64, &floor.commit_p50_us_64,
                    &floor.commit_p99_us_64);
  }
  for (const std::string& path : {one, many}) {
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
  }
  if (!s.ok()) return s;
  return floor;
}

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start(const std::string& self_exe,
                                                              const Pki& pki) {
  const int port = FreePort();
  const std::string port_text = std::to_string(port);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed bench
    execl(self_exe.c_str(), "mir-bench", "--serve-echo", port_text.c_str(), "--pki",
          pki.dir.c_str(), nullptr);
    _exit(127);
  }
  std::unique_ptr<EchoServer> server(new EchoServer(pid, port));
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (!Listening(port)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      return absl::InternalError("the echo server exited during start");
    }
    if (absl::Now() > end) return absl::DeadlineExceededError("the echo server did not listen");
    absl::SleepFor(absl::Milliseconds(5));
  }
  return server;
}

EchoServer::~EchoServer() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
}

absl::StatusOr<RunFigures> MeasureEcho(const Pki& pki, int port, int in_flight, int calls,
                                       size_t payload_bytes) {
  auto credentials =
      client::LoadCredentials(pki.Path("toscana/operator.crt"), pki.Path("toscana/operator.key"),
                              pki.Path("ca.crt"), RealClock::Get());
  if (!credentials.ok()) return credentials.status();
  auto channels =
      MakeChannels(absl::StrCat("127.0.0.1:", port), credentials->channel, ChannelsFor(in_flight));
  std::vector<std::unique_ptr<Echo::Stub>> stubs;
  for (auto& channel : channels) stubs.push_back(Echo::NewStub(channel));
  const std::string payload(payload_bytes, 'e');
  struct Call {
    grpc::ClientContext context;
    EchoMessage request, response;
  };
  Operation echo = [&](int lane, std::function<void(absl::Status)> done) {
    auto* call = new Call;
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    call->request.set_payload(payload);
    stubs[static_cast<size_t>(lane) % stubs.size()]->async()->Echo(
        &call->context, &call->request, &call->response,
        [call, done = std::move(done)](grpc::Status status) {
          delete call;
          done(status.ok() ? absl::OkStatus() : absl::UnavailableError(status.error_message()));
        });
  };
  RunClosedLoop(in_flight, std::min(calls, 200), echo);  // warm-up
  return RunClosedLoop(in_flight, calls, echo);
}

int ServeEcho(int port, const std::string& pki_dir) {
  const Pki pki{pki_dir};
  // The broker's own server credentials: mutual TLS with a node certificate,
  // toscana's, the only server its operator's client accepts (e65e337).
  auto credentials = broker::MutualTlsServerCredentials(
      {pki.Path("ca.crt"), pki.Path("toscana/node.crt"), pki.Path("toscana/node.key")});
  if (!credentials.ok()) {
    std::fprintf(stderr, "echo server: %s\n", credentials.status().ToString().c_str());
    return 1;
  }
  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), *credentials);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  server->Wait();
  return 0;
}

}  // namespace mir::bench
