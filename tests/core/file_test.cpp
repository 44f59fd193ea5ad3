#include <otpp/io/file.hpp>

#include "otpp_test.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <tuple>

namespace OTPP_TEST_FILE {

using namespace std::chrono_literals;
namespace tp = otpp::this_process;
namespace fs = std::filesystem;

namespace {
// A file of the test's own under the temp directory, removed at the end.
struct temp_path {
  fs::path path;
  explicit temp_path(const char* stem)
      : path(fs::temp_directory_path() / fmt::format("otpp-{}-{}.dat", stem, ::getpid())) {
    fs::remove(path);
  }
  temp_path(const temp_path&) = delete;
  temp_path& operator=(const temp_path&) = delete;
  ~temp_path() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};
struct wrote {
  int n;
};
struct echo {};
} // namespace

TEST_CASE("file: append, write_at, read_at, read_all, size, sync, then reopen", "[core][file]") {
  const auto backend = GENERATE(otpp::file_backend::automatic, otpp::file_backend::blocking_pool);
  OTPP_TEST_RUNTIME({.schedulers = 1});
  temp_path t("rw");
  {
    auto f =
        otpp::file::open(t.path, otpp::file::read_write | otpp::file::create, {.backend = backend});
    if (backend == otpp::file_backend::automatic)
      CHECK(f.backend() == (otpp::io_uring_unavailable_reason().empty()
                                ? otpp::file_backend::io_uring
                                : otpp::file_backend::blocking_pool));
    CHECK(f.append(boost::asio::buffer(std::string_view("hello "))) == 0);
    CHECK(f.append(boost::asio::buffer(std::string_view("world"))) == 6);
    f.write_at(0, boost::asio::buffer(std::string_view("H")));
    f.sync_data();
    CHECK(f.size() == 11);
    char part[5] = {};
    CHECK(f.read_at(6, boost::asio::buffer(part)) == 5);
    CHECK(std::string(part, 5) == "world");
    char past[8] = {};
    CHECK(f.read_at(9, boost::asio::buffer(past)) == 2); // short only at the end
    CHECK(f.read_all() == "Hello world");
  }
  auto again = otpp::file::open(t.path, otpp::file::read_write, {.backend = backend});
  CHECK(again.end() == 11); // appends continue at the end
  again.append(boost::asio::buffer(std::string_view("!")));
  again.sync_all();
  CHECK(again.read_all() == "Hello world!");
}

TEST_CASE("file: async appends and reads deliver their results as messages", "[core][file]") {
  const auto backend = GENERATE(otpp::file_backend::automatic, otpp::file_backend::blocking_pool);
  OTPP_TEST_RUNTIME({.schedulers = 1});
  temp_path t("async");
  auto f =
      otpp::file::open(t.path, otpp::file::read_write | otpp::file::create | otpp::file::truncate,
                       {.backend = backend});
  for (int i = 0; i < 10; ++i)
    f.async_append(fmt::format("line {}\n", i), otpp::to_mailbox(wrote{i}));
  int acks = 0;
  for (int i = 0; i < 10; ++i)
    tp::receive([&](otpp::io_result<wrote, boost::system::error_code, std::size_t>& r) {
      CHECK_FALSE(std::get<0>(r.args));
      CHECK(std::get<1>(r.args) == 7);
      ++acks;
    });
  CHECK(acks == 10);
  f.async_sync_data(otpp::to_mailbox(echo{}));
  CHECK_FALSE(
      std::get<0>(otpp_test::expect<otpp::io_result<echo, boost::system::error_code>>().args));
  // Each append had its own place, whatever order they completed in.
  CHECK(f.read_all().substr(0, 14) == "line 0\nline 1\n");
  CHECK(f.size() == 70);
  f.async_read_at(63, 100, otpp::to_mailbox(echo{}));
  auto r = otpp_test::expect<otpp::io_result<echo, boost::system::error_code, std::string>>();
  CHECK_FALSE(std::get<0>(r.args));
  CHECK(std::get<1>(r.args) == "line 9\n");
  // use_process works as for any Asio operation.
  CHECK(f.async_append("tail", otpp::use_process) == 4);
}

TEST_CASE("file: errors name the file, and no backend is a clear error", "[core][file]") {
  {
    OTPP_TEST_RUNTIME({.schedulers = 1});
    try {
      otpp::file::open("/nonexistent-dir/otpp.dat", otpp::file::read_only);
      FAIL("opened");
    } catch (const std::system_error& e) {
      CHECK(std::string(e.what()).find("/nonexistent-dir/otpp.dat") != std::string::npos);
      CHECK(e.code().value() == ENOENT);
    }
  }
  OTPP_TEST_RUNTIME({.schedulers = 1, .blocking_threads = 0});
  temp_path t("none");
  try {
    otpp::file::open(t.path, otpp::file::read_write | otpp::file::create,
                     {.backend = otpp::file_backend::blocking_pool});
    FAIL("opened");
  } catch (const otpp::file_io_unavailable& e) {
    CHECK(std::string(e.what()).find("blocking_threads is 0") != std::string::npos);
  }
  if (!otpp::io_uring_unavailable_reason().empty()) {
    CHECK_THROWS_AS(otpp::file::open(t.path, otpp::file::read_write | otpp::file::create),
                    otpp::file_io_unavailable);
  } else {
    auto f = otpp::file::open(t.path, otpp::file::read_write | otpp::file::create);
    CHECK(f.backend() == otpp::file_backend::io_uring); // io_uring needs no pool
    f.append(boost::asio::buffer(std::string_view("x")));
    f.sync_data(); // on the scheduler thread, without a pool
    CHECK(f.read_all() == "x");
  }
}

} // namespace OTPP_TEST_FILE
