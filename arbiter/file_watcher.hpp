#pragma once

// The arbiter's watch on the app's files under `reload`: inotify on every directory below
// the roots (directories that appear later are added as they appear), filtered by name
// patterns, and debounced, so that an editor's save (several events) or a checkout (hundreds)
// gives one reload. Nothing runs while nothing changes: the loop polls fd() with its signals.

#include "common/unique_fd.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace hornbeam::arbiter {

class FileWatcher {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::vector<std::string> roots{};    // watched with their subdirectories
    std::vector<std::string> files{};    // watched alone, whatever the patterns (the config file)
    std::vector<std::string> include{};  // fnmatch patterns on a file's name
    std::vector<std::string> exclude{};  // on file and directory names: never watched
    std::chrono::milliseconds debounce{200};
  };

  // Throws std::runtime_error when inotify cannot be had or a root cannot be watched.
  explicit FileWatcher(Options options);

  // Readable when inotify has events: the arbiter's loop wakes on it.
  int fd() const { return inotify_.get(); }
  // Reads the pending events without blocking; returns the changed files (sorted) once none
  // changed for `debounce`, and nothing before.
  std::vector<std::string> poll(Clock::time_point now);
  // Directories watched below the roots (the config file's own directory is not counted).
  std::size_t watched_directories() const;

 private:
  struct Directory {
    std::filesystem::path path;
    bool tree = false;  // under a root: patterns apply and subdirectories are watched
  };

  void watch_tree(const std::filesystem::path& directory, bool report_files);
  int add_watch(const std::filesystem::path& directory, bool tree);
  // True when the event is a change that counts (and restarts the debounce).
  bool handle(int watch, std::uint32_t mask, const std::string& name);
  bool excluded(const std::string& name) const;
  bool included(const std::string& name) const;

  Options options_;
  UniqueFd inotify_;
  std::map<int, Directory> directories_;  // by watch descriptor
  std::set<std::string> files_;           // options_.files, absolute
  std::set<std::string> changed_;
  Clock::time_point last_change_{};
  bool out_of_watches_logged_ = false;
};

}  // namespace hornbeam::arbiter
