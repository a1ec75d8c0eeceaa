# Configures, builds and runs one packaging consumer (tests/cmake_<MODE>/); any failure fails.
#   cmake -DMODE=fetch_content|find_package -DLSMT_SOURCE_DIR=<checkout> -DCONSUMER_DIR=<dir>
#         -DWORK_DIR=<scratch dir> [-DGENERATOR=..] [-DCXX=..] [-DBUILD_TYPE=..] -P run_consumer.cmake
cmake_minimum_required(VERSION 3.14)
foreach(var MODE LSMT_SOURCE_DIR CONSUMER_DIR WORK_DIR)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()

function(run)
  message(STATUS "run_consumer: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run_consumer: command failed (${rc}): ${ARGN}")
  endif()
endfunction()

set(configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
if(GENERATOR)
  list(APPEND configure_args -G ${GENERATOR})
endif()
if(CXX)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CXX})
endif()
set(config_args "")
if(BUILD_TYPE)
  set(config_args --config ${BUILD_TYPE})
endif()

file(REMOVE_RECURSE ${WORK_DIR})
if(MODE STREQUAL "find_package")
  # Install this checkout the way a user would, into a private prefix.
  run(${CMAKE_COMMAND} -S ${LSMT_SOURCE_DIR} -B ${WORK_DIR}/lsmt-build ${configure_args}
      -DLSMT_BUILD_TESTS=OFF -DLSMT_BUILD_EXAMPLES=OFF -DLSMT_INSTALL=ON)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lsmt-build --prefix ${WORK_DIR}/prefix ${config_args})
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "fetch_content")
  list(APPEND configure_args -DLSMT_SOURCE_DIR=${LSMT_SOURCE_DIR})
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()

run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer-build ${configure_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build ${config_args})
run(${WORK_DIR}/consumer-build/bin/consumer)
