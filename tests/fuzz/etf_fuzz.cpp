// libFuzzer target: otpp's external term format decoder on arbitrary bytes.
// Distributed under the Boost Software License, Version 1.0.
//
// Whatever the input, decoding returns a term or an error (never a crash,
// a hang, a leak or undefined behaviour: the target runs under ASan and
// UBSan), and a decoded term survives encode + decode unchanged and prints.
// Built by the asan-ubsan preset (clang++ -fsanitize=fuzzer) and run by
// ctest for a bounded time on the seeds in tests/fuzz/etf_corpus.
#include <otpp/dist/etf.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto t = otpp::etf::try_decode(in, &why);
  if (!t) {
    if (why.empty())
      std::abort(); // an error must say why
    return 0;
  }
  const std::string again = otpp::etf::encode(*t);
  if (!(otpp::etf::decode(again) == *t))
    std::abort();
  static_cast<void>(otpp::to_string(*t));
  return 0;
}
