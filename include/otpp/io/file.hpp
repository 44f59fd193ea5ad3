// Files from a process: reads and writes that suspend only the calling
// process, on io_uring (Asio's file objects) where the build and the kernel
// allow it, else on the runtime's blocking pool.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/asio.hpp>
#include <otpp/core/blocking.hpp>
#include <otpp/core/process.hpp>
#include <otpp/core/runtime.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_HAS_FILE)
#define OTPP_HAS_IO_URING 1
#include <boost/asio/random_access_file.hpp>
#include <boost/asio/read_at.hpp>
#include <boost/asio/write_at.hpp>
#include <liburing.h>
#endif

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace otpp {

/// How a file's reads and writes are done.
enum class file_backend : std::uint8_t {
  /// io_uring if this build has it (`otpp::io_uring` CMake target, which
  /// defines BOOST_ASIO_HAS_IO_URING and links liburing) and the kernel
  /// allows it; else the blocking pool.
  automatic,
  /// io_uring through Asio's file objects; `file::open` fails if unavailable.
  io_uring,
  /// pread / pwrite on the runtime's blocking pool.
  blocking_pool,
};

/// Thrown when a file cannot be used the way asked: neither io_uring nor
/// a blocking pool is available, or io_uring was asked for and is not.
class file_io_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Why io_uring cannot be used here ("" when it can): not in this build,
/// or refused by the kernel (a seccomp filter, `kernel.io_uring_disabled`).
inline const std::string& io_uring_unavailable_reason() {
  static const std::string reason = [] {
#if defined(OTPP_HAS_IO_URING)
    ::io_uring ring{};
    const int rc = ::io_uring_queue_init(4, &ring, 0);
    if (rc < 0)
      return fmt::format("the kernel refused io_uring (io_uring_queue_init: {})",
                         std::strerror(-rc));
    ::io_uring_queue_exit(&ring);
    return std::string();
#else
    return std::string("this program was built without io_uring (link the otpp::io_uring "
                       "CMake target: it defines BOOST_ASIO_HAS_IO_URING and links liburing)");
#endif
  }();
  return reason;
}

/// How `file::open` opens a file.
struct file_options {
  file_backend backend = file_backend::automatic;
};

/// A file opened by a process. Every operation suspends only the calling
/// process: the other processes of its scheduler keep running.
///
/// Synchronous forms (`read_at`, `write_at`, `append`, `sync_data`, ...)
/// return when done; an exit signal that comes meanwhile waits for the
/// operation (its buffer is the caller's), then ends the process.
/// Asynchronous forms (`async_*`) take any Asio completion token
/// (`otpp::to_mailbox(tag)` delivers the result as a message while the
/// process goes on; `asio::deferred` for a state machine's `co_await`);
/// they own their data, so nothing they touch belongs to the caller.
///
/// Not thread-safe: one process uses a file (as an Erlang port).
class file {
public:
  /// How to open (combine with `|`).
  enum mode : unsigned {
    read_only = 1U << 0,
    write_only = 1U << 1,
    read_write = 1U << 2,
    create = 1U << 3,    ///< create if missing
    truncate = 1U << 4,  ///< empty it on open
    exclusive = 1U << 5, ///< with create: fail if it exists
  };

  file() = default;
  file(file&&) noexcept = default;
  file& operator=(file&&) noexcept = default;
  ~file() = default;

  /// Open `path` from a process. Throws `std::system_error` (with the
  /// path) if the file cannot be opened, `file_io_unavailable` if neither
  /// io_uring nor the blocking pool can do its I/O.
  static file open(const std::filesystem::path& path, unsigned how, file_options opt = {});

  bool is_open() const noexcept { return fd_ != nullptr; }
  /// The backend this file uses.
  file_backend backend() const noexcept { return backend_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  /// The offset where the next `append` writes: the size at open plus what
  /// was appended since.
  std::uint64_t end() const noexcept { return end_; }

  /// Read up to `b.size()` bytes at `offset`, fewer only at the end of the
  /// file. Returns how many.
  std::size_t read_at(std::uint64_t offset, boost::asio::mutable_buffer b);
  /// Write all of `b` at `offset`.
  void write_at(std::uint64_t offset, boost::asio::const_buffer b);
  /// Write all of `b` at `end()`; returns the offset it was written at.
  std::uint64_t append(boost::asio::const_buffer b);
  /// The whole file as bytes.
  std::string read_all();
  /// The size of the file now.
  std::uint64_t size();
  /// Make written data durable (fdatasync / fsync).
  void sync_data();
  void sync_all();
  /// Close now (the destructor closes too).
  void close() noexcept;

  /// Asynchronous forms: `void(error_code, std::size_t)` for writes (bytes
  /// written), `void(error_code, std::string)` for reads,
  /// `void(error_code)` for syncs. The data is moved into the operation.
  template <class Token> auto async_append(std::string data, Token&& token);
  template <class Token> auto async_write_at(std::uint64_t offset, std::string data, Token&& token);
  template <class Token> auto async_read_at(std::uint64_t offset, std::size_t n, Token&& token);
  template <class Token> auto async_sync_data(Token&& token);

private:
  // The descriptor, shared with the pool calls still running (a call never
  // writes to a descriptor that was closed and reused).
  struct descriptor {
    int fd = -1;
    ~descriptor() {
      if (fd >= 0)
        ::close(fd);
    }
  };

  int native() const { return fd_->fd; }
  void check_open(const char* api) const;
  [[noreturn]] void fail(const char* what, int err) const {
    throw std::system_error(err, std::generic_category(),
                            fmt::format("otpp::file {} {}", what, path_.string()));
  }
  static std::pair<boost::system::error_code, std::size_t>
  pwrite_all(int fd, std::uint64_t off, const char* p, std::size_t n) noexcept;
  static std::pair<boost::system::error_code, std::size_t>
  pread_full(int fd, std::uint64_t off, char* p, std::size_t n) noexcept;
  template <class Fn> auto on_pool(Fn&& fn) {
    if (rt_->options().blocking_threads == 0) // (checked at open; a pool closed meanwhile throws)
      return fn();
    return blocking_call(std::forward<Fn>(fn));
  }

  std::filesystem::path path_;
  file_backend backend_ = file_backend::blocking_pool;
  std::shared_ptr<descriptor> fd_;
  runtime* rt_ = nullptr;
  std::uint64_t end_ = 0;
#if defined(OTPP_HAS_IO_URING)
  std::unique_ptr<boost::asio::random_access_file> ring_;
#endif
};

// ---------------------------------------------------------------------------

inline file file::open(const std::filesystem::path& path, unsigned how, file_options opt) {
  file f;
  f.path_ = path;
  f.rt_ = &this_process::get_runtime();
  const bool pool = f.rt_->options().blocking_threads != 0;
  const std::string& no_ring = io_uring_unavailable_reason();
  if (opt.backend == file_backend::io_uring && !no_ring.empty())
    throw file_io_unavailable(
        fmt::format("otpp::file::open {}: io_uring was asked for: {}", path.string(), no_ring));
  if (opt.backend == file_backend::blocking_pool && !pool)
    throw file_io_unavailable(
        fmt::format("otpp::file::open {}: the blocking pool was asked for and the runtime has none "
                    "(runtime_options::blocking_threads is 0)",
                    path.string()));
  if (opt.backend == file_backend::automatic && !no_ring.empty() && !pool)
    throw file_io_unavailable(
        fmt::format("otpp::file::open {}: no way to do file I/O without blocking the "
                    "scheduler: {}, and the runtime has no blocking pool "
                    "(runtime_options::blocking_threads is 0)",
                    path.string(), no_ring));
  f.backend_ = opt.backend == file_backend::automatic
                   ? (no_ring.empty() ? file_backend::io_uring : file_backend::blocking_pool)
                   : opt.backend;

  int flags = O_CLOEXEC;
  flags |= (how & read_write) != 0U ? O_RDWR : (how & write_only) != 0U ? O_WRONLY : O_RDONLY;
  if ((how & create) != 0U)
    flags |= O_CREAT;
  if ((how & truncate) != 0U)
    flags |= O_TRUNC;
  if ((how & exclusive) != 0U)
    flags |= O_EXCL;
  const std::string name = path.string();
  auto opened = f.on_pool([&]() -> std::pair<int, std::uint64_t> {
    const int fd = ::open(name.c_str(), flags, 0644);
    if (fd < 0)
      return {-errno, 0};
    struct stat st {};
    const std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    return {fd, size};
  });
  if (opened.first < 0)
    f.fail("open", -opened.first);
  f.fd_ = std::make_shared<descriptor>();
  f.fd_->fd = opened.first;
  f.end_ = opened.second;
#if defined(OTPP_HAS_IO_URING)
  if (f.backend_ == file_backend::io_uring) {
    // Asio's file object on the process's scheduler, on a descriptor of its
    // own (it closes it): the shared one stays for the pool's calls.
    const int dup = ::fcntl(f.native(), F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
      f.fail("open (dup)", errno);
    f.ring_ = std::make_unique<boost::asio::random_access_file>(this_process::executor(), dup);
  }
#endif
  return f;
}

inline void file::check_open(const char* api) const {
  if (!fd_)
    throw std::logic_error(fmt::format("otpp::file::{}: the file is not open", api));
}

inline std::pair<boost::system::error_code, std::size_t>
file::pwrite_all(int fd, std::uint64_t off, const char* p, std::size_t n) noexcept {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::pwrite(fd, p + done, n - done, static_cast<off_t>(off + done));
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return {boost::system::error_code(errno, boost::system::system_category()), done};
    }
    done += static_cast<std::size_t>(w);
  }
  return {{}, done};
}

inline std::pair<boost::system::error_code, std::size_t>
file::pread_full(int fd, std::uint64_t off, char* p, std::size_t n) noexcept {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return {boost::system::error_code(errno, boost::system::system_category()), done};
    }
    if (r == 0)
      break; // end of file
    done += static_cast<std::size_t>(r);
  }
  return {{}, done};
}

inline std::size_t file::read_at(std::uint64_t offset, boost::asio::mutable_buffer b) {
  check_open("read_at");
#if defined(OTPP_HAS_IO_URING)
  if (ring_) {
    auto [ec, n] = boost::asio::async_read_at(*ring_, offset, b,
                                              boost::asio::as_tuple(use_process_until_done));
    if (ec && ec != boost::asio::error::eof)
      fail("read", ec.value());
    return n;
  }
#endif
  auto [ec, n] = on_pool([fd = fd_, offset, b] {
    return pread_full(fd->fd, offset, static_cast<char*>(b.data()), b.size());
  });
  if (ec)
    fail("read", ec.value());
  return n;
}

inline void file::write_at(std::uint64_t offset, boost::asio::const_buffer b) {
  check_open("write_at");
#if defined(OTPP_HAS_IO_URING)
  if (ring_) {
    auto [ec, n] = boost::asio::async_write_at(*ring_, offset, b,
                                               boost::asio::as_tuple(use_process_until_done));
    if (ec)
      fail("write", ec.value());
    return;
  }
#endif
  auto [ec, n] = on_pool([fd = fd_, offset, b] {
    return pwrite_all(fd->fd, offset, static_cast<const char*>(b.data()), b.size());
  });
  if (ec)
    fail("write", ec.value());
}

inline std::uint64_t file::append(boost::asio::const_buffer b) {
  const std::uint64_t at = end_;
  end_ += b.size(); // reserved first: an append started meanwhile goes after it
  try {
    write_at(at, b);
  } catch (...) {
    if (end_ == at + b.size())
      end_ = at;
    throw;
  }
  return at;
}

inline std::uint64_t file::size() {
  check_open("size");
  auto r = on_pool([fd = fd_]() -> std::pair<int, std::uint64_t> {
    struct stat st {};
    if (::fstat(fd->fd, &st) != 0)
      return {errno, 0};
    return {0, static_cast<std::uint64_t>(st.st_size)};
  });
  if (r.first != 0)
    fail("stat", r.first);
  return r.second;
}

inline std::string file::read_all() {
  std::string out(static_cast<std::size_t>(size()), '\0');
  out.resize(read_at(0, boost::asio::buffer(out)));
  return out;
}

inline void file::sync_data() {
  check_open("sync_data");
  if (const int err = on_pool([fd = fd_] { return ::fdatasync(fd->fd) == 0 ? 0 : errno; }))
    fail("fdatasync", err);
}

inline void file::sync_all() {
  check_open("sync_all");
  if (const int err = on_pool([fd = fd_] { return ::fsync(fd->fd) == 0 ? 0 : errno; }))
    fail("fsync", err);
}

inline void file::close() noexcept {
#if defined(OTPP_HAS_IO_URING)
  ring_.reset();
#endif
  fd_.reset();
}

template <class Token>
auto file::async_write_at(std::uint64_t offset, std::string data, Token&& token) {
  check_open("async_write_at");
  using sig = void(boost::system::error_code, std::size_t);
  return boost::asio::async_initiate<Token, sig>(
      [this, offset](auto handler, std::string bytes) {
        auto buf = std::make_shared<std::string>(std::move(bytes));
        auto ex = boost::asio::get_associated_executor(handler, this_process::executor());
#if defined(OTPP_HAS_IO_URING)
        if (ring_) {
          boost::asio::async_write_at(
              *ring_, offset, boost::asio::buffer(*buf),
              boost::asio::bind_executor(
                  ex, [buf, h = std::move(handler)](boost::system::error_code ec,
                                                    std::size_t n) mutable { h(ec, n); }));
          return;
        }
#endif
        async_blocking_call(
            *rt_,
            [fd = fd_, offset, buf] {
              return pwrite_all(fd->fd, offset, buf->data(), buf->size());
            },
            boost::asio::bind_executor(
                ex, [h = std::move(handler)](
                        std::exception_ptr,
                        std::pair<boost::system::error_code, std::size_t> r) mutable {
                  h(r.first, r.second);
                }));
      },
      token, std::move(data));
}

template <class Token> auto file::async_append(std::string data, Token&& token) {
  const std::uint64_t at = end_;
  end_ += data.size();
  return async_write_at(at, std::move(data), std::forward<Token>(token));
}

template <class Token>
auto file::async_read_at(std::uint64_t offset, std::size_t n, Token&& token) {
  check_open("async_read_at");
  using sig = void(boost::system::error_code, std::string);
  return boost::asio::async_initiate<Token, sig>(
      [this, offset, n](auto handler) {
        auto buf = std::make_shared<std::string>(n, '\0');
        auto ex = boost::asio::get_associated_executor(handler, this_process::executor());
#if defined(OTPP_HAS_IO_URING)
        if (ring_) {
          boost::asio::async_read_at(
              *ring_, offset, boost::asio::buffer(*buf),
              boost::asio::bind_executor(
                  ex, [buf, h = std::move(handler)](boost::system::error_code ec,
                                                    std::size_t got) mutable {
                    buf->resize(got);
                    h(ec == boost::asio::error::eof ? boost::system::error_code() : ec,
                      std::move(*buf));
                  }));
          return;
        }
#endif
        async_blocking_call(
            *rt_,
            [fd = fd_, offset, buf] {
              auto r = pread_full(fd->fd, offset, buf->data(), buf->size());
              buf->resize(r.second);
              return r.first;
            },
            boost::asio::bind_executor(
                ex, [buf, h = std::move(handler)](std::exception_ptr,
                                                  boost::system::error_code ec) mutable {
                  h(ec, std::move(*buf));
                }));
      },
      token);
}

template <class Token> auto file::async_sync_data(Token&& token) {
  check_open("async_sync_data");
  using sig = void(boost::system::error_code);
  return boost::asio::async_initiate<Token, sig>(
      [this](auto handler) {
        auto ex = boost::asio::get_associated_executor(handler, this_process::executor());
        async_blocking_call(
            *rt_,
            [fd = fd_] {
              return ::fdatasync(fd->fd) == 0
                         ? boost::system::error_code()
                         : boost::system::error_code(errno, boost::system::system_category());
            },
            boost::asio::bind_executor(
                ex, [h = std::move(handler)](std::exception_ptr,
                                             boost::system::error_code ec) mutable { h(ec); }));
      },
      token);
}

} // namespace otpp
