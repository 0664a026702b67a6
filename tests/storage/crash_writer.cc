// Helper for crash_test.cc: writes to a Store in a loop until killed, and
// after each acknowledged commit prints the committed referral ids, one per
// line, to stdout (a pipe to the parent) with a single write(2) - so the
// parent learns of a commit only after COMMIT returned OK.
//
//   mir_store_crash_writer <db path> <id prefix>
//
// Every third transaction groups several referrals, to check that grouped
// commits are also all-or-nothing.

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"

namespace {

using namespace ::mir::storage;           // NOLINT
using namespace ::mir::storage::testing;  // NOLINT

bool WriteAll(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(STDOUT_FILENO, data.data() + done, data.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db path> <id prefix>\n", argv[0]);
    return 2;
  }
  StoreOptions options;
  options.path = argv[1];
  const std::string prefix = argv[2];
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options, mir::RealClock::Get());
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::string envelope(1024, 'e');
  for (int txn = 0;; ++txn) {
    const int group = txn % 3 == 2 ? 8 : 1;
    std::vector<std::string> refs;
    for (int i = 0; i < group; ++i) refs.push_back(absl::StrCat(prefix, "-", txn, "-", i));
    const absl::Status status = (*store)->Transact([&](Txn& t) -> absl::Status {
      for (const std::string& ref : refs) {
        Event submitted = Submitted(ref);
        submitted.envelope = envelope;
        RETURN_IF_ERROR(t.ApplyEvent(submitted).status());
        RETURN_IF_ERROR(
            t.ApplyEvent(Changed(ref, NodeOf("lombardia"), 1, mir::v1::RECEIVED)).status());
        RETURN_IF_ERROR(t.Enqueue(Outgoing("out-" + ref, "lombardia")));
      }
      return absl::OkStatus();
    });
    if (!status.ok()) {
      std::fprintf(stderr, "write: %s\n", status.ToString().c_str());
      return 1;
    }
    std::string acks;
    for (const std::string& ref : refs) absl::StrAppend(&acks, ref, "\n");
    if (!WriteAll(acks)) return 1;
  }
}
