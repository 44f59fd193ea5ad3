// expect: otpp::spawn: the process function must be callable with no arguments
// Misuse: a process function that expects an argument. Capture it instead:
//   rt.spawn([n] { work(n); });
#include <otpp/core/runtime.hpp>

void start(otpp::runtime& rt) {
  rt.spawn([](int n) { (void)n; });
}
