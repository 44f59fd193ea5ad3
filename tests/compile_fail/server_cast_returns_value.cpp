// expect: handlers return void or an otpp::action
// Misuse: a cast handler that returns a value. Only call handlers reply; a
// cast handler returns nothing or what the server does next (otpp::act::...).
#include <otpp/behaviour/server.hpp>

struct inc {
  int by;
};

auto counter() {
  return otpp::server<int>().on_cast([](int& n, inc i) { return n += i.by; });
}
