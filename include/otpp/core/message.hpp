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

/// Where the answer to a request goes: the requester and the tag its reply
/// must carry.
///
/// @par OTP
/// gen_server's `From` (`{Pid, Tag}`).
struct reply_to {
  otpp::pid pid;
  otpp::ref tag;
  friend bool operator==(const reply_to&, const reply_to&) noexcept = default;
};

/// A request as its receiver sees it (see `send_request`): the value and who
/// waits for the answer.
template <class T> struct request {
  reply_to from; ///< keep first: the runtime finds it by offset
  T value;
};

/// A reply as the requester sees it (see `send_reply`).
template <class T> struct reply {
  otpp::ref tag; ///< keep first: the runtime finds it by offset
  T value;
};

} // namespace otpp
