// expect: otpp::send: a message must be a move-constructible type
// Misuse: sending a value that cannot be moved into the message allocation
// (a struct holding a std::mutex is neither copyable nor movable).
#include <otpp/core/process.hpp>

#include <mutex>

struct guarded_counter {
  std::mutex m;
  int count = 0;
};

void report(const otpp::pid& to, guarded_counter& c) {
  otpp::send(to, c);
}
