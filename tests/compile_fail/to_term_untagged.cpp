// expect: otpp::to_term/from_term: this aggregate has no term tag
// An aggregate becomes a tagged tuple only once its tag atom is named
// (OTPP_TERM_TAG); without one, to_term does not compile.
#include <otpp/dist/convert.hpp>

struct add {
  double x, y;
};

int main() {
  otpp::term t = otpp::to_term(add{1, 2});
  static_cast<void>(t);
}
