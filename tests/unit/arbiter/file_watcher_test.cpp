// The reload watch on a real directory tree, through the kernel's inotify: which changes
// count, that bursts are debounced, and that directories made later are watched.

#include "arbiter/file_watcher.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace hornbeam::arbiter {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FileWatcherTest : public ::testing::Test {
 protected:
  FileWatcherTest()
      : root(fs::temp_directory_path() /
             ("hornbeam-watch-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(root);
    fs::create_directories(root / "pkg");
    fs::create_directories(root / ".git");
    fs::create_directories(root / "__pycache__");
    write(root / "app.py");
    write(root / "pkg" / "views.py");
  }
  ~FileWatcherTest() override { fs::remove_all(root); }

  static void write(const fs::path& path, const std::string& text = "x = 1\n") {
    std::ofstream(path) << text;
  }
  FileWatcher watcher(FileWatcher::Options extra = {}) {
    extra.roots = {root.string()};
    if (extra.include.empty()) extra.include = {"*.py"};
    if (extra.exclude.empty()) extra.exclude = {".*", "__pycache__"};
    extra.debounce = 50ms;
    return FileWatcher(extra);
  }
  // What poll() gives once the debounce is over.
  static std::vector<std::string> settled(FileWatcher& watcher) {
    const auto now = FileWatcher::Clock::now();
    EXPECT_TRUE(watcher.poll(now).empty()) << "nothing before the debounce";
    return watcher.poll(now + 50ms);
  }

  fs::path root;
};

TEST_F(FileWatcherTest, ASavedModuleAnywhereInTheTreeIsAChange) {
  auto watch = watcher();
  EXPECT_EQ(watch.watched_directories(), 2u) << "root and pkg; .git and __pycache__ excluded";
  write(root / "pkg" / "views.py", "x = 2\n");
  EXPECT_EQ(settled(watch), std::vector<std::string>{(root / "pkg" / "views.py").string()});
  EXPECT_TRUE(watch.poll(FileWatcher::Clock::now() + 1s).empty()) << "reported once";
}

TEST_F(FileWatcherTest, OtherFilesAndExcludedDirectoriesAreNot) {
  auto watch = watcher();
  write(root / "notes.txt");
  write(root / ".git" / "index.py");
  write(root / "__pycache__" / "app.cpython-311.pyc");
  write(root / ".app.py.swp");
  EXPECT_TRUE(watch.poll(FileWatcher::Clock::now() + 1s).empty());
}

TEST_F(FileWatcherTest, ARenameOverTheFileAndADeletionAreChanges) {
  auto watch = watcher();
  write(root / "app.py.tmp");
  fs::rename(root / "app.py.tmp", root / "app.py");  // how many editors save
  fs::remove(root / "pkg" / "views.py");
  EXPECT_EQ(settled(watch), (std::vector<std::string>{(root / "app.py").string(),
                                                      (root / "pkg" / "views.py").string()}));
}

TEST_F(FileWatcherTest, EveryChangeRestartsTheDebounce) {
  auto watch = watcher();
  const auto start = FileWatcher::Clock::now();
  write(root / "app.py", "x = 2\n");
  EXPECT_TRUE(watch.poll(start).empty());
  write(root / "app.py", "x = 3\n");
  EXPECT_TRUE(watch.poll(start + 40ms).empty()) << "the same file again restarts the wait";
  EXPECT_TRUE(watch.poll(start + 80ms).empty());
  EXPECT_EQ(watch.poll(start + 90ms).size(), 1u);
}

TEST_F(FileWatcherTest, ANewDirectoryIsWatchedAndWhatItAlreadyHoldsIsAChange) {
  auto watch = watcher();
  fs::create_directories(root / "newpkg" / "deeper");
  write(root / "newpkg" / "deeper" / "mod.py");  // may land before the watch is added
  auto first = settled(watch);
  EXPECT_EQ(first, std::vector<std::string>{(root / "newpkg" / "deeper" / "mod.py").string()});
  write(root / "newpkg" / "deeper" / "mod.py", "x = 2\n");
  EXPECT_EQ(settled(watch), first) << "its later changes are seen too";
}

TEST_F(FileWatcherTest, AWatchedFileCountsWhateverThePatterns) {
  write(root / "hornbeam.yaml", "workers: 1\n");
  auto watch = watcher({.files = {(root / "hornbeam.yaml").string()}});
  write(root / "other.yaml");
  write(root / "hornbeam.yaml", "workers: 2\n");
  EXPECT_EQ(settled(watch), std::vector<std::string>{(root / "hornbeam.yaml").string()});
}

TEST_F(FileWatcherTest, ARootThatIsNotADirectoryIsRefused) {
  EXPECT_THROW(FileWatcher({.roots = {(root / "missing").string()}}), std::runtime_error);
}

}  // namespace
}  // namespace hornbeam::arbiter
