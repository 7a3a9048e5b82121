#include "arbiter/file_watcher.hpp"

#include "common/logging.hpp"

#include <spdlog/logger.h>

#include <fnmatch.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace hornbeam::arbiter {
namespace {

namespace fs = std::filesystem;

// A save is a close after writing, or a rename over the file (editors that write a temporary
// file first); `touch` (attributes) reloads too, as it does for Gunicorn's and uWSGI's users.
constexpr std::uint32_t file_events =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& pattern : patterns) {
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace

FileWatcher::FileWatcher(Options options)
    : options_(std::move(options)), inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (!inotify_) {
    throw std::runtime_error(std::string("reload: cannot start inotify: ") + std::strerror(errno));
  }
  for (const auto& root : options_.roots) {
    std::error_code error;
    const auto path = fs::canonical(root, error);
    if (error || !fs::is_directory(path)) {
      throw std::runtime_error("reload: cannot watch `" + root + "`: not a directory");
    }
    watch_tree(path, false);
  }
  for (const auto& file : options_.files) {
    const auto path = fs::absolute(file).lexically_normal();
    files_.insert(path.string());
    // A file is replaced by a rename on save: its directory is what is watched.
    add_watch(path.parent_path(), false);
  }
}

int FileWatcher::add_watch(const fs::path& directory, bool tree) {
  const int watch =
      ::inotify_add_watch(inotify_.get(), directory.c_str(), file_events | IN_ONLYDIR);
  if (watch < 0) {
    if (errno == ENOSPC && !out_of_watches_logged_) {
      out_of_watches_logged_ = true;
      logging::error_log().warn(
          "reload: out of inotify watches at {} (raise fs.inotify.max_user_watches); its "
          "changes are not seen",
          directory.string());
    }
    return -1;
  }
  // The same directory twice (a root that holds the config file) is one watch: a tree wins.
  auto& entry = directories_[watch];
  entry.path = directory;
  entry.tree = entry.tree || tree;
  return watch;
}

void FileWatcher::watch_tree(const fs::path& directory, bool report_files) {
  if (add_watch(directory, true) < 0) return;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const auto name = it->path().filename().string();
    if (excluded(name)) continue;
    std::error_code type_error;
    // Symbolic links to directories are not followed: a link to a parent would loop.
    if (it->is_directory(type_error) && !it->is_symlink(type_error)) {
      watch_tree(it->path(), report_files);
    } else if (report_files && included(name)) {
      // A directory that appeared (mkdir, then files, or a move): what it already holds was
      // written before its watch existed.
      changed_.insert(it->path().string());
    }
  }
}

std::size_t FileWatcher::watched_directories() const {
  return static_cast<std::size_t>(
      std::count_if(directories_.begin(), directories_.end(),
                    [](const auto& entry) { return entry.second.tree; }));
}

bool FileWatcher::excluded(const std::string& name) const {
  return matches_any(options_.exclude, name);
}

bool FileWatcher::included(const std::string& name) const {
  return !excluded(name) && matches_any(options_.include, name);
}

bool FileWatcher::handle(int watch, std::uint32_t mask, const std::string& name) {
  const auto found = directories_.find(watch);
  if (found == directories_.end()) return false;
  if (mask & IN_IGNORED) {  // the directory went away
    directories_.erase(found);
    return false;
  }
  const Directory directory = found->second;
  const auto path = directory.path / name;
  if (files_.count(path.string()) || (directory.tree && !(mask & IN_ISDIR) && included(name))) {
    changed_.insert(path.string());
    return true;
  }
  if (directory.tree && (mask & IN_ISDIR) && (mask & (IN_CREATE | IN_MOVED_TO)) &&
      !excluded(name)) {
    const auto before = changed_.size();
    watch_tree(path, true);
    return changed_.size() != before;
  }
  // A removed directory's files were reported by their own directory's watch.
  return false;
}

std::vector<std::string> FileWatcher::poll(Clock::time_point now) {
  alignas(inotify_event) char buffer[16 * 1024];
  bool any = false;
  for (ssize_t length; (length = ::read(inotify_.get(), buffer, sizeof buffer)) > 0;) {
    for (ssize_t offset = 0; offset < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        changed_.insert("(more changes than inotify could queue)");
        any = true;
      } else if (handle(event->wd, event->mask,
                        event->len ? std::string(event->name) : std::string())) {
        any = true;
      }
    }
  }
  if (any) last_change_ = now;
  if (changed_.empty() || now - last_change_ < options_.debounce) return {};
  std::vector<std::string> changed(changed_.begin(), changed_.end());
  changed_.clear();
  return changed;
}

}  // namespace hornbeam::arbiter
