// mir-store-query-bench: latency of Store::QueryReferrals on a large store
// (docs/STORAGE.md, "Benchmark"; issue 7's filtered list). Not a test.
//
//   mir-store-query-bench [--dir DIR] [--referrals N] [--queries Q] [--envelope-bytes B]
//
// Fills DIR/query-N.db with N referrals through raw SQL (fast, unsynced;
// the file is kept and reused by later runs with the same N, so a run after
// a schema change measures the migration on open too), then opens it with
// Store::Open (which leaves quick_check to the background after a clean
// shutdown of a large file; the queries wait for it) and times Q calls of
// each query shape, newest 100 first: unfiltered, a state held by 1 % of
// the rows, one held by 98 %, both, two rare states, and a rare state with
// a direction filter. Every 100th row is INFO_REQUESTED, every 100th + 1
// PLACEMENT_PROPOSED, the rest UNDER_EVALUATION; updated_at_us rises with
// the row, two rows per value (ties, broken by referral_id as the store
// does).

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/store.h"

namespace {

using mir::storage::ReferralQuery;
using mir::storage::Store;
using mir::storage::StoreOptions;
using Clock = std::chrono::steady_clock;
namespace v1 = mir::v1;

struct Flags {
  std::string dir = "/var/tmp/mir-store-query-bench";
  int referrals = 100000;
  int queries = 300;
  int envelope_bytes = 1024;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dir" && has_value) {
      flags->dir = argv[++i];
    } else if (arg == "--referrals" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &flags->referrals) || flags->referrals <= 0) return false;
    } else if (arg == "--queries" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &flags->queries) || flags->queries <= 0) return false;
    } else if (arg == "--envelope-bytes" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &flags->envelope_bytes) || flags->envelope_bytes <= 0)
        return false;
    } else {
      return false;
    }
  }
  return true;
}

bool Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return true;
  std::fprintf(stderr, "sqlite: %s\n", err != nullptr ? err : "error");
  sqlite3_free(err);
  return false;
}

int64_t CountReferrals(const std::string& path) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM referrals", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return n;
}

// Creates the schema through the Store, then the rows through raw SQL.
bool Fill(const std::string& path, const Flags& flags) {
  {
    StoreOptions options;
    options.path = path;
    auto store = Store::Open(options, mir::RealClock::Get());
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", std::string(store.status().message()).c_str());
      return false;
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return false;
  const bool ok =
      Exec(db, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF;") &&
      Exec(db, absl::StrCat("BEGIN; WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c "
                            "WHERE i < ",
                            flags.referrals - 1,
                            ") INSERT INTO referrals (referral_id, origin_node, "
                            "destination_node, urgency, ack_deadline_us, state, created_at_us, "
                            "updated_at_us, referral_envelope) SELECT printf('ref-%09d', i), "
                            "CASE i % 3 WHEN 0 THEN 'veneto' ELSE 'toscana' END, "
                            "CASE i % 3 WHEN 0 THEN 'toscana' ELSE 'lombardia' END, 2, NULL, "
                            "CASE i % 100 WHEN 0 THEN 4 WHEN 1 THEN 5 ELSE 3 END, "
                            "1700000000000000 + i / 2 * 1000, 1700000000000000 + i / 2 * 1000, "
                            "zeroblob(",
                            flags.envelope_bytes, ") FROM c; COMMIT;"));
  sqlite3_close_v2(db);
  return ok;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: %s [--dir DIR] [--referrals N] [--queries Q] [--envelope-bytes B]\n",
                 argv[0]);
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.dir, ec);
  const std::string path = absl::StrCat(flags.dir, "/query-", flags.referrals, ".db");
  if (CountReferrals(path) != flags.referrals) {
    std::filesystem::remove(path, ec);
    const auto start = Clock::now();
    if (!Fill(path, flags)) return 1;
    std::printf("filled %d referrals in %.1f s\n", flags.referrals,
                std::chrono::duration<double>(Clock::now() - start).count());
  }

  // A fixed KEK: a file kept from before schema version 9 has its
  // envelopes sealed at rest by the migration, which needs one.
  absl::StatusOr<mir::KeyEncryptionKey> kek =
      mir::KeyEncryptionKey::FromBytes(std::string(32, 'q'));
  if (!kek.ok()) return 1;
  StoreOptions options;
  options.path = path;
  options.kek = &*kek;
  const auto open_start = Clock::now();
  auto opened = Store::Open(options, mir::RealClock::Get());
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  Store& store = **opened;
  const bool in_background = store.integrity_check().in_background;
  std::printf(
      "mir-store-query-bench: %s, %d referrals, open (%s) %.2f s\n", path.c_str(), flags.referrals,
      in_background ? "migrations; quick_check left to the background" : "quick_check, migrations",
      std::chrono::duration<double>(Clock::now() - open_start).count());
  // The queries are timed without the check beside them, as before it moved.
  if (in_background && store.WaitForIntegrityCheck(absl::Hours(1))) {
    std::printf("background quick_check: %s, done %.2f s after open began\n",
                store.integrity_check().result.ok() ? "ok" : "FAILED",
                std::chrono::duration<double>(Clock::now() - open_start).count());
  }
  std::printf("%-40s %8s %10s %10s %10s\n", "query (limit 100)", "rows", "p50 us", "p99 us",
              "max us");

  struct Shape {
    const char* name;
    std::vector<v1::ReferralState> states;
    bool inbound = false;
  };
  const Shape shapes[] = {
      {"unfiltered", {}},
      {"1 % state", {v1::INFO_REQUESTED}},
      {"98 % state", {v1::UNDER_EVALUATION}},
      {"1 % + 98 % states", {v1::INFO_REQUESTED, v1::UNDER_EVALUATION}},
      {"two 1 % states", {v1::INFO_REQUESTED, v1::PLACEMENT_PROPOSED}},
      {"1 % state, inbound (1/3 of rows)", {v1::INFO_REQUESTED}, true},
  };
  for (const Shape& shape : shapes) {
    ReferralQuery q;
    q.states = shape.states;
    if (shape.inbound) q.not_origin_node = "toscana";
    q.limit = 100;
    std::vector<double> micros;
    size_t rows = 0;
    for (int i = 0; i < flags.queries + 10; ++i) {
      const auto start = Clock::now();
      auto result = store.QueryReferrals(q);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (!result.ok()) {
        std::fprintf(stderr, "query: %s\n", std::string(result.status().message()).c_str());
        return 1;
      }
      rows = result->size();
      if (i >= 10) micros.push_back(us);  // the first ones warm the cache
    }
    std::printf("%-40s %8zu %10.0f %10.0f %10.0f\n", shape.name, rows, Percentile(micros, 0.5),
                Percentile(micros, 0.99), Percentile(micros, 1.0));
  }
  return 0;
}
