# Compile-fail check, run as:
#   cmake -DCONFIG_FILE=<generated config> -DSOURCE=<file.cpp> -P check.cmake
#
# <file.cpp> must start with a line
#   // expect: <text>
# The check passes only if compiling <file.cpp> (-std=c++20 -fsyntax-only)
# FAILS and the compiler output contains <text> (literal substring match).
cmake_minimum_required(VERSION 3.20)

foreach(_var IN ITEMS CONFIG_FILE SOURCE)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "check.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${CONFIG_FILE}")
  message(FATAL_ERROR "check.cmake: config file '${CONFIG_FILE}' not found (re-run cmake)")
endif()
if(NOT EXISTS "${SOURCE}")
  message(FATAL_ERROR "check.cmake: source '${SOURCE}' not found")
endif()

include("${CONFIG_FILE}") # CF_CXX_COMPILER, CF_INCLUDE_DIRS, CF_COMPILE_DEFINITIONS,
                          # CF_IMPLICIT_INCLUDE_DIRS

# --- expected text from the first line ------------------------------------
file(READ "${SOURCE}" _head LIMIT 4096)
string(REGEX MATCH "^[^\n]*" _first_line "${_head}")
string(REGEX REPLACE "\r$" "" _first_line "${_first_line}")
if(NOT _first_line MATCHES "^//[ \t]*expect:[ \t]*(.*)$")
  message(FATAL_ERROR
    "${SOURCE}: first line must be `// expect: <text>`, got:\n  ${_first_line}")
endif()
string(STRIP "${CMAKE_MATCH_1}" _expected)
if(_expected STREQUAL "")
  message(FATAL_ERROR "${SOURCE}: `// expect:` line has empty text")
endif()

# --- compiler command line --------------------------------------------------
set(_args -std=c++20 -fsyntax-only)
foreach(_dir IN LISTS CF_INCLUDE_DIRS)
  # Never pass the compiler's own system dirs (e.g. /usr/include) as -I:
  # that would reorder the system search path and break #include_next.
  if(_dir STREQUAL "" OR _dir IN_LIST CF_IMPLICIT_INCLUDE_DIRS)
    continue()
  endif()
  list(APPEND _args "-I${_dir}")
endforeach()
foreach(_def IN LISTS CF_COMPILE_DEFINITIONS)
  if(NOT _def STREQUAL "")
    list(APPEND _args "-D${_def}")
  endif()
endforeach()

# Stable, ASCII-only diagnostics (g++ uses typographic quotes in UTF-8 locales).
set(ENV{LC_ALL} "C")
set(ENV{LANG} "C")

execute_process(
  COMMAND "${CF_CXX_COMPILER}" ${_args} "${SOURCE}"
  RESULT_VARIABLE _result
  OUTPUT_VARIABLE _output
  ERROR_VARIABLE _output)

string(REPLACE ";" " " _cmdline "${CF_CXX_COMPILER};${_args};${SOURCE}")

if(_result EQUAL 0)
  message(FATAL_ERROR
    "compile_fail: ${SOURCE} COMPILED SUCCESSFULLY but was expected to fail.\n"
    "Command: ${_cmdline}\n"
    "Output:\n${_output}")
endif()
if(NOT _result MATCHES "^[0-9]+$")
  # e.g. "No such file or directory" when the compiler cannot be started
  message(FATAL_ERROR
    "compile_fail: could not run the compiler: ${_result}\nCommand: ${_cmdline}")
endif()

string(FIND "${_output}" "${_expected}" _pos)
if(_pos EQUAL -1)
  message(FATAL_ERROR
    "compile_fail: ${SOURCE} failed to compile as expected, but the diagnostics "
    "do not contain the expected text.\n"
    "Expected: ${_expected}\n"
    "Command: ${_cmdline}\n"
    "Output:\n${_output}")
endif()

message(STATUS "compile_fail: ${SOURCE}: rejected with expected diagnostic \"${_expected}\"")
