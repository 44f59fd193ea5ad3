// Death tests: run a scenario in a child process (fork) and read what it
// wrote on stderr and how it ended. For the plain builds: the sanitizers
// watch stacks and SIGSEGV themselves, and TSan does not follow a fork of
// this kind.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace otpp_test {

struct death {
  std::string err; // what the child wrote on stderr
  int signal = 0;  // the signal that ended it (0: it exited)
  int status = 0;  // its exit status, if it exited
};

// Run `f` in a child process and wait for it (the test thread must not
// run a runtime when it forks: nothing but it may be running).
template <class F> death in_child(F f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const ::pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(60);                // a child that hangs ends by SIGALRM, and the test fails
    ::signal(SIGABRT, SIG_DFL); // not Catch's handler: the parent reports
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    f();
    std::_Exit(0);
  }
  ::close(fds[1]);
  death d;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0)
      break;
    d.err.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  if (WIFSIGNALED(st))
    d.signal = WTERMSIG(st);
  else
    d.status = WEXITSTATUS(st);
  return d;
}

// Fill `bytes` of stack at once (a large by-value local).
[[gnu::noinline]] inline int big_frame(std::size_t bytes) {
  char* p = static_cast<char*>(__builtin_alloca(bytes));
  std::memset(p, 7, bytes);
  asm volatile("" : : "r"(p) : "memory"); // an optimiser may not drop the writes
  return p[bytes / 2];
}

} // namespace otpp_test
