// The real binaries: --check-config exit codes, --print-config output, --version, --help.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

struct Run {
  int status;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `command` through the shell from the source directory.
Run run(const std::string& command) {
  const auto tmp =
      std::filesystem::temp_directory_path() / ("hornbeam-bin-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  const std::string out = (tmp / "out").string();
  const std::string err = (tmp / "err").string();
  const std::string full = "cd '" HORNBEAM_SOURCE_DIR "' && " + command + " >" + out + " 2>" + err;
  const int raw = std::system(full.c_str());
  Run result{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
  std::filesystem::remove_all(tmp);
  return result;
}

const std::string arbiter = HORNBEAM_ARBITER_BIN;
const std::string worker = HORNBEAM_WORKER_BIN;

TEST(Binaries, CheckConfigAcceptsTheExample) {
  for (const auto& binary : {arbiter, worker}) {
    const auto result = run(binary + " --check-config -c examples/hello/hornbeam.yaml");
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("is valid"), std::string::npos);
  }
}

TEST(Binaries, CheckConfigRefusesATypoWithLineColumnAndSuggestion) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("hornbeam-typo-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bad.yaml") << "app: app:application\nwokers: 4\n";
  const auto result = run(arbiter + " --check-config -c " + (dir / "bad.yaml").string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("bad.yaml:2:1: unknown key `wokers` (did you mean `workers`?)"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(Binaries, PrintConfigAppliesTheEnvironment) {
  const auto result =
      run("HORNBEAM_WORKERS=3 " + arbiter + " -c examples/hello/hornbeam.yaml --print-config");
  ASSERT_EQ(result.status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["workers"], 3);
  EXPECT_EQ(json["app"], "app:application");
}

TEST(Binaries, PrintConfigAppliesTheCommandLineOverTheEnvironment) {
  const auto result =
      run("HORNBEAM_WORKERS=3 " + arbiter + " -c examples/hello/hornbeam.yaml -w 5 --print-config");
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["workers"], 5);
}

TEST(Binaries, ConfigFileFromTheEnvironment) {
  const auto result =
      run("HORNBEAM_CONFIG=examples/hello/hornbeam.yaml " + arbiter + " --check-config");
  EXPECT_EQ(result.status, 0) << result.err;
}

TEST(Binaries, MissingAppExitsTwo) {
  const auto result = run(arbiter + " --check-config");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("no app given"), std::string::npos);
}

TEST(Binaries, UnknownOptionExitsTwo) {
  const auto result = run(arbiter + " --wokers 2 a:b");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("did you mean --workers?"), std::string::npos) << result.err;
}

TEST(Binaries, VersionNamesPythonAndBoost) {
  const auto result = run(arbiter + " --version");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.out.find("hornbeam 0."), std::string::npos);
  EXPECT_NE(result.out.find("(Python " HORNBEAM_PYTHON_VERSION ","), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("Boost 1.81.0"), std::string::npos);
}

TEST(Binaries, HelpExitsZero) {
  const auto result = run(worker + " --help");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.out.find("--limits-max-body-size"), std::string::npos);
}

}  // namespace
