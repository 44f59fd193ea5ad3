// expect: otpp::to_term/from_term: this type has no term mapping
// A type that is neither mapped (term_traits) nor an aggregate cannot be
// read from a term.
#include <otpp/dist/convert.hpp>

class opaque {
public:
  explicit opaque(int v) : v_(v) {}

private:
  int v_;
};

int main() {
  auto v = otpp::from_term<opaque>(otpp::term(1));
  static_cast<void>(v);
}
