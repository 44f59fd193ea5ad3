# package/find_package test driver, run as
#   cmake -DOTPP_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=...
#         -DCXX_COMPILER=... -DGENERATOR=... [-DMAKE_PROGRAM=...] [-DCONFIG=...]
#         -P run.cmake
#
# 1. cmake --install <otpp build dir> --prefix <WORK_DIR>/stage
# 2. configure + build tests/package against that prefix only
# 3. run the consumer executable
# Any failure is fatal.
cmake_minimum_required(VERSION 3.20)

foreach(_var IN ITEMS OTPP_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR CXX_COMPILER GENERATOR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${_var}=... is required")
  endif()
endforeach()

set(_stage "${WORK_DIR}/stage")
set(_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${_stage}" "${_build}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(_config_args "")
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
  set(_config_args --config "${CONFIG}")
endif()

# 1. install
message(STATUS "package test: installing ${OTPP_BUILD_DIR} -> ${_stage}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${OTPP_BUILD_DIR}" --prefix "${_stage}" ${_config_args}
  COMMAND_ECHO STDOUT
  COMMAND_ERROR_IS_FATAL ANY)

if(NOT EXISTS "${_stage}/include/otpp/otpp.hpp")
  message(FATAL_ERROR "package test: ${_stage}/include/otpp/otpp.hpp was not installed")
endif()

# 2. configure + build the consumer
set(_configure_args
  -S "${CONSUMER_SOURCE_DIR}"
  -B "${_build}"
  -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_PREFIX_PATH=${_stage}"
  "-DOTPP_EXPECTED_PREFIX=${_stage}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(DEFINED MAKE_PROGRAM AND NOT MAKE_PROGRAM STREQUAL "")
  list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
  list(APPEND _configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()

message(STATUS "package test: configuring consumer")
execute_process(
  COMMAND "${CMAKE_COMMAND}" ${_configure_args}
  COMMAND_ECHO STDOUT
  COMMAND_ERROR_IS_FATAL ANY)

message(STATUS "package test: building consumer")
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${_build}" ${_config_args}
  COMMAND_ECHO STDOUT
  COMMAND_ERROR_IS_FATAL ANY)

# 3. run it
set(_path_file "${_build}/consumer-path-${CONFIG}.txt")
if(NOT EXISTS "${_path_file}")
  message(FATAL_ERROR "package test: ${_path_file} missing; cannot locate consumer executable")
endif()
file(READ "${_path_file}" _exe)
string(STRIP "${_exe}" _exe)

message(STATUS "package test: running ${_exe}")
execute_process(
  COMMAND "${_exe}"
  RESULT_VARIABLE _result
  TIMEOUT 60)
if(NOT _result STREQUAL "0")
  message(FATAL_ERROR "package test: consumer exited with '${_result}'")
endif()
message(STATUS "package test: OK")
