// storage/sqlite_util.h: a bind that fails is an error, never a NULL.

#include "storage/sqlite_util.h"

#include <memory>

#include "common/status_macros.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<Db> OpenMemory() {
  absl::StatusOr<std::unique_ptr<Db>> db =
      Db::Open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "");
  EXPECT_OK(db);
  return db.ok() ? *std::move(db) : nullptr;
}

// `(?2 IS NULL OR ...)` matches everything when ?2 was never bound: a bind to
// a parameter the statement lacks must fail the step, not run it.
TEST(StatementTest, BindOutOfRangeFailsTheStepNamingTheStatement) {
  std::unique_ptr<Db> db = OpenMemory();
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->Exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a'), ('b');", "setup"));
  {
    absl::StatusOr<Statement> s =
        db->Prepare("SELECT COUNT(*) FROM t WHERE (?1 IS NULL OR x = ?1)", "count matching rows");
    ASSERT_OK(s);
    s->BindText(2, "a");  // no parameter 2: ?1 stays NULL
    absl::StatusOr<bool> row = s->Step();
    EXPECT_THAT(row.status(), StatusIs(absl::StatusCode::kInternal));
    EXPECT_THAT(row.status().message(), HasSubstr("count matching rows"));
    EXPECT_THAT(row.status().message(), HasSubstr("parameter 2"));
  }
  {
    absl::StatusOr<Statement> s = db->Prepare("INSERT INTO t VALUES (?1)", "insert a row");
    ASSERT_OK(s);
    s->BindText(1, "c").BindInt(0, 7);  // parameters are 1-based
    EXPECT_THAT(s->Run(), StatusIs(absl::StatusCode::kInternal));
  }
  // The statements are reusable once the failed use is over.
  absl::StatusOr<Statement> s =
      db->Prepare("SELECT COUNT(*) FROM t WHERE (?1 IS NULL OR x = ?1)", "count matching rows");
  ASSERT_OK(s);
  s->BindText(1, "a");
  absl::StatusOr<bool> row = s->Step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_EQ(s->Int(0), 1);
  EXPECT_EQ(*db->QueryText("SELECT COUNT(*) FROM t", "count rows"), "2");
}

}  // namespace
}  // namespace mir::storage
