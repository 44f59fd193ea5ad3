// expect: otpp::send_after: a message must be a move-constructible type
// Misuse: a timer message that cannot be moved into the timer's allocation.
#include <otpp/core/timer.hpp>

#include <chrono>
#include <mutex>

struct guarded_counter {
  std::mutex m;
  int count = 0;
};

void remind(const otpp::pid& to, guarded_counter& c) {
  otpp::send_after(to, std::chrono::seconds(1), c);
}
