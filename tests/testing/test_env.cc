#include "tests/testing/test_env.h"

#include <cstdlib>
#include <filesystem>
#include <random>

#include "common/files.h"

namespace mir::testing {
namespace {
std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}
}  // namespace

std::string PkiPath(const std::string& rel) {
  return EnvOr("MIR_TEST_PKI", MIR_TEST_PKI_DEFAULT) + "/" + rel;
}

std::string ReadPkiFile(const std::string& rel) {
  auto contents = ReadFile(PkiPath(rel));
  EXPECT_TRUE(contents.ok()) << contents.status();
  return contents.ok() ? *contents : std::string();
}

std::string SourcePath(const std::string& rel) {
  return EnvOr("MIR_SOURCE_DIR", MIR_SOURCE_DIR_DEFAULT) + "/" + rel;
}

std::string NewTempDir() {
  static std::mt19937_64 rng(std::random_device{}());
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name =
      info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "mir";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("mir-test-" + name + "-" + std::to_string(rng()));
  std::filesystem::create_directories(dir);
  // A broker refuses a data folder that other users can read.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  return dir.string();
}

}  // namespace mir::testing
