// Downstream consumer for the `package/find_package` test: built against the
// installed otpp package only.
#include <otpp/otpp.hpp>

int main() {
  otpp::runtime rt;
  rt.spawn([] {});
  return rt.run();
}
