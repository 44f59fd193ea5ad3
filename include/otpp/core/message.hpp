// The messages the runtime itself delivers: monitor and exit notifications.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/core/exit_reason.hpp>
#include <otpp/core/pid.hpp>

namespace otpp {

/// Delivered to a monitoring process when the monitored process ends
/// (or at once, with reason `noproc`, if it was already gone).
///
/// @par OTP
/// `{'DOWN', Ref, process, Pid, Reason}`.
struct down {
  otpp::ref monitor; ///< what `monitor()` returned
  pid process;       ///< the process that ended
  exit_reason reason;
};

/// What an exit signal becomes in the mailbox of a process that traps exits.
///
/// @par OTP
/// `{'EXIT', From, Reason}`.
struct exit_message {
  pid from;
  exit_reason reason;
};

} // namespace otpp
