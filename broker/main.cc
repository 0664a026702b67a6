// mir-broker: one MIR Exchange node, and its backup tools.
//
//   mir-broker --config node.json [--listen HOST:PORT] [--db PATH]
//   mir-broker backup  --config node.json --to FILE
//   mir-broker restore --config node.json --from FILE
//   mir-broker verify  --config node.json [--file FILE]
//
// Serving runs until SIGTERM or SIGINT, then shuts down cleanly: in-flight
// calls finish, and whatever was not yet receipted stays pending in the
// outbox. backup runs beside a serving node (storage/backup.h);
// restore wants the node stopped and its data folder empty.

#include <signal.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "broker/broker.h"
#include "broker/check_config.h"
#include "broker/config.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "crypto/sealing.h"
#include "storage/backup.h"

namespace {

constexpr char kUsage[] =
    "usage: mir-broker --config FILE [--listen HOST:PORT] [--db PATH]\n"
    "       mir-broker backup  --config FILE --to FILE [--db PATH]\n"
    "       mir-broker restore --config FILE --from FILE [--db PATH] [--scratch DIR]\n"
    "       mir-broker verify  --config FILE [--file FILE] [--db PATH] [--scratch DIR]\n"
    "       mir-broker --check-config FILE\n"
    "\n"
    "  (no command)       run the node until SIGTERM or SIGINT\n"
    "  --check-config     load and check the config and every file it names\n"
    "                     (certificates, keys, KEK, registry), start nothing;\n"
    "                     prints OK and exits 0, or the error naming the field\n"
    "                     and exits 2\n"
    "  backup             copy the database of a node, running or not, to a new\n"
    "                     file (mode 0600, never replacing one); the copy is\n"
    "                     useless without the node's KEK, which it does not hold\n"
    "  restore            check a backup (as verify), then copy it in as the\n"
    "                     node's database; the node must be stopped and its\n"
    "                     database must not exist\n"
    "  verify             check the node's database, or a backup (--file):\n"
    "                     integrity, schema version, audit chain, every receipt;\n"
    "                     exits 1 on any problem\n"
    "\n"
    "  --config FILE      the node's JSON configuration (see broker/README.md)\n"
    "  --listen HOST:PORT overrides listen_address\n"
    "  --db PATH          overrides database_path\n"
    "  --to, --from, --file FILE  the backup file\n"
    "  --scratch DIR      where verify and restore put their scratch copy\n"
    "                     (default: the data folder, else the temp folder)\n";

// The KEKs and CA a restore or a verify needs, loaded from the config.
struct Custody {
  std::unique_ptr<mir::KeyEncryptionKey> kek;
  std::vector<std::unique_ptr<mir::KeyEncryptionKey>> previous;
  mir::storage::VerifyOptions verify;
};

absl::StatusOr<Custody> LoadCustody(const mir::broker::BrokerOptions& options,
                                    const std::string& scratch) {
  Custody c;
  auto kek = mir::KeyEncryptionKey::FromFile(options.key_encryption_key);
  if (!kek.ok()) return kek.status();
  c.kek = std::make_unique<mir::KeyEncryptionKey>(*std::move(kek));
  for (const std::string& path : options.previous_key_encryption_keys) {
    auto previous = mir::KeyEncryptionKey::FromFile(path);
    if (!previous.ok()) return previous.status();
    c.previous.push_back(std::make_unique<mir::KeyEncryptionKey>(*std::move(previous)));
  }
  auto ca = mir::ReadFile(options.ca_certificate);
  if (!ca.ok()) return ca.status();
  c.verify.node_id = options.node_id;
  c.verify.national_node = options.national_node;
  c.verify.kek = c.kek.get();
  for (const auto& previous : c.previous) c.verify.previous_keks.push_back(previous.get());
  c.verify.ca_pem = *std::move(ca);
  c.verify.scratch_dir = scratch;
  if (c.verify.scratch_dir.empty()) {
    const std::filesystem::path folder = std::filesystem::path(options.database_path).parent_path();
    std::error_code error;
    if (!folder.empty() && std::filesystem::is_directory(folder, error)) {
      c.verify.scratch_dir = folder.string();
    }
  }
  return c;
}

void PrintReport(const std::string& path, const mir::storage::VerifyReport& r) {
  std::cout << "verified " << path << "\n"
            << "  integrity_check: " << (r.integrity_ok ? "ok" : "FAILED") << "\n"
            << "  schema version: " << r.schema_version << "\n"
            << "  referrals: " << r.referrals << "\n"
            << "  audit chain: " << r.audit.rows_checked << " events, "
            << (r.audit.ok ? "intact" : "BROKEN") << ", head "
            << (r.audit.head_hash.empty() ? "(empty)" : r.audit.head_hash) << "\n"
            << "  receipts verified: " << r.outbox_receipts_checked
            << " from peers (delivered outbox rows), " << r.inbox_receipts_checked
            << " of ours (inbox rows)";
  if (r.receipts_not_checkable > 0) {
    std::cout << "; " << r.receipts_not_checkable
              << " delivered rows without their envelope (erased before schema 9)";
  }
  std::cout << "\n  problems: " << r.problems.size() << "\n";
  for (const std::string& problem : r.problems) std::cout << "    " << problem << "\n";
}

int Backup(const mir::broker::BrokerOptions& options, const std::string& to) {
  if (to.empty()) {
    std::cerr << "mir-broker backup: --to FILE is required\n" << kUsage;
    return 2;
  }
  auto stats = mir::storage::BackupDatabase(options.database_path, to);
  if (!stats.ok()) {
    std::cerr << "mir-broker backup: " << stats.status().message() << "\n";
    return 1;
  }
  auto kek = mir::KeyEncryptionKey::FromFile(options.key_encryption_key);
  std::cout << absl::StrFormat("backed up %s to %s: %d pages, %.1f MiB, %.2f s\n",
                               options.database_path, to, stats->pages,
                               static_cast<double>(stats->bytes) / (1 << 20),
                               absl::ToDoubleSeconds(stats->elapsed))
            << "The copy holds routing fields in clear and every referral key wrapped under\n"
            << "the node's key-encryption key (KEK" << (kek.ok() ? " " + kek->id() : std::string())
            << ", " << options.key_encryption_key
            << "),\nwhich it does NOT contain: without that KEK the copy cannot be restored or\n"
            << "read. Keep the KEK in other custody, never with this file (docs/PRIVACY.md).\n"
            << "Check the copy with: mir-broker verify --config ... --file " << to << "\n";
  return 0;
}

int Verify(const mir::broker::BrokerOptions& options, const std::string& file,
           const std::string& scratch) {
  auto custody = LoadCustody(options, scratch);
  if (!custody.ok()) {
    std::cerr << "mir-broker verify: " << custody.status().message() << "\n";
    return 2;
  }
  const std::string path = file.empty() ? options.database_path : file;
  auto report = mir::storage::VerifyDatabase(path, custody->verify);
  if (!report.ok()) {
    std::cerr << "mir-broker verify: " << report.status().message() << "\n";
    return 1;
  }
  PrintReport(path, *report);
  return report->ok() ? 0 : 1;
}

int Restore(const mir::broker::BrokerOptions& options, const std::string& from,
            const std::string& scratch) {
  if (from.empty()) {
    std::cerr << "mir-broker restore: --from FILE is required\n" << kUsage;
    return 2;
  }
  std::error_code error;
  if (std::filesystem::exists(options.database_path, error)) {
    std::cerr << "mir-broker restore: " << options.database_path
              << " exists: restore only into an empty data folder (stop the node, move the "
                 "folder aside)\n";
    return 1;
  }
  auto custody = LoadCustody(options, scratch);
  if (!custody.ok()) {
    std::cerr << "mir-broker restore: " << custody.status().message() << "\n";
    return 2;
  }
  auto report = mir::storage::VerifyDatabase(from, custody->verify);
  if (!report.ok()) {
    std::cerr << "mir-broker restore: " << report.status().message() << "\n";
    return 1;
  }
  PrintReport(from, *report);
  if (!report->ok()) {
    std::cerr << "mir-broker restore: " << from << " does not verify; nothing restored\n";
    return 1;
  }
  if (absl::Status restored = mir::storage::RestoreDatabase(from, options.database_path);
      !restored.ok()) {
    std::cerr << "mir-broker restore: " << restored.message() << "\n";
    return 1;
  }
  std::cout << "restored " << from << " as " << options.database_path << "\n"
            << "What this node receipted after the backup was taken is not in it, and its\n"
            << "peers will not send it again: see RELIABILITY.md, \"Backup and restore\".\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals first thing (before any thread starts, and so
  // that a stop request during start-up is honoured cleanly), then wait for
  // one once the broker runs.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  // SIGHUP: reload the key, certificate, CA bundle and CRLs (Broker::Reload).
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Debian's Abseil is built with deadlock detection on: about 5 % of a busy
  // broker's CPU. Tests keep it on; the production binary does not pay it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  std::string command, config_path, listen, db, to, from, file, scratch;
  bool check_config = false;
  int first = 1;
  if (argc > 1 && argv[1][0] != '-') {
    command = argv[1];
    first = 2;
    if (command != "backup" && command != "restore" && command != "verify") {
      std::cerr << "mir-broker: unknown command " << command << "\n" << kUsage;
      return 2;
    }
  }
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "mir-broker: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--config") {
      config_path = value();
    } else if (arg == "--check-config" && command.empty()) {
      config_path = value();
      check_config = true;
    } else if (arg == "--listen") {
      listen = value();
    } else if (arg == "--db") {
      db = value();
    } else if (arg == "--to" && command == "backup") {
      to = value();
    } else if (arg == "--from" && command == "restore") {
      from = value();
    } else if (arg == "--file" && command == "verify") {
      file = value();
    } else if (arg == "--scratch" && (command == "verify" || command == "restore")) {
      scratch = value();
    } else {
      std::cerr << "mir-broker: unknown flag " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  if (check_config) {
    const absl::Status checked = mir::broker::CheckConfig(config_path, absl::Now());
    if (!checked.ok()) {
      std::cerr << "mir-broker: " << checked.message() << "\n";
      return 2;
    }
    std::cout << "OK " << config_path << "\n";
    return 0;
  }
  auto options = mir::broker::LoadConfigFile(config_path);
  if (!options.ok()) {
    std::cerr << "mir-broker: " << options.status().message() << "\n";
    return 2;
  }
  if (!listen.empty()) options->listen_address = listen;
  if (!db.empty()) options->database_path = db;
  if (!command.empty()) {
    // The tools start no threads and may be stopped with ^C at any point: a
    // stopped backup leaves at most FILE.partial-PID, never FILE itself.
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    if (command == "backup") return Backup(*options, to);
    if (command == "restore") return Restore(*options, from, scratch);
    return Verify(*options, file, scratch);
  }

  auto broker = mir::broker::Broker::Start(*options, mir::RealClock::Get());
  if (!broker.ok()) {
    std::cerr << "mir-broker: " << broker.status().message() << "\n";
    return 1;
  }
  int signal = 0;
  while (sigwait(&stop_signals, &signal) == 0 && signal == SIGHUP) {
    MIR_LOG(INFO) << "received SIGHUP, reloading the node's certificates, CA bundle and CRLs";
    // Logs what it did or why it kept the old material; the node serves on.
    (*broker)->Reload().IgnoreError();
  }
  MIR_LOG(INFO) << "received " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", shutting down";
  (*broker)->Shutdown();
  return 0;
}
