// Reports moved to the core (a process that crashes reports itself):
// otpp/core/report.hpp. This header stays for code that includes it here.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/report.hpp>
