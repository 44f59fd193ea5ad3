// otpp version numbers.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#define OTPP_VERSION_MAJOR 0
#define OTPP_VERSION_MINOR 1
#define OTPP_VERSION_PATCH 0

namespace otpp {
/// The library version as `major * 10000 + minor * 100 + patch`.
inline constexpr int version =
    OTPP_VERSION_MAJOR * 10000 + OTPP_VERSION_MINOR * 100 + OTPP_VERSION_PATCH;
} // namespace otpp
