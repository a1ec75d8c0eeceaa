# Configures, builds and runs one packaging consumer (tests/cmake_<MODE>/); any failure fails.
#   cmake -DMODE=fetch_content|find_package|pkg_config|no_catch2 -DLSMT_SOURCE_DIR=<checkout>
#         -DCONSUMER_DIR=<dir> -DWORK_DIR=<scratch dir> [-DGENERATOR=..] [-DCXX=..]
#         [-DBUILD_TYPE=..] -P run_consumer.cmake
# pkg_config installs lsmt and builds the find_package consumer's main.cpp with the flags
# `pkg-config --cflags --libs lsmt` gives, then in compiled mode with lsmt_compiled's; no_catch2 configures lsmt itself as if Catch2 were
# missing, which must succeed with the tests off and say so.
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
if(MODE STREQUAL "no_catch2")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${LSMT_SOURCE_DIR} -B ${WORK_DIR}/lsmt-build
                          ${configure_args} -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=TRUE
                          -DLSMT_BUILD_EXAMPLES=OFF
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run_consumer: configuring without Catch2 failed (${rc}):\n${out}${err}")
  endif()
  if(NOT out MATCHES "Catch2 not found, so the tests are off")
    message(FATAL_ERROR "run_consumer: configuring without Catch2 did not say the tests are off:\n${out}")
  endif()
  if(EXISTS ${WORK_DIR}/lsmt-build/tests)
    message(FATAL_ERROR "run_consumer: configuring without Catch2 still set up the tests")
  endif()
  return()
endif()
if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  # Install this checkout the way a user would, into a private prefix.
  run(${CMAKE_COMMAND} -S ${LSMT_SOURCE_DIR} -B ${WORK_DIR}/lsmt-build ${configure_args}
      -DLSMT_BUILD_TESTS=OFF -DLSMT_BUILD_EXAMPLES=OFF -DLSMT_INSTALL=ON)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/lsmt-build ${config_args})  # lsmt_compiled
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lsmt-build --prefix ${WORK_DIR}/prefix ${config_args})
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
  if(MODE STREQUAL "pkg_config")
    # The version the installed lsmt.pc states must be the one its headers define.
    find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
    set(pc_env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${WORK_DIR}/prefix/share/pkgconfig)
    execute_process(COMMAND ${pc_env} ${PKG_CONFIG} --cflags --libs lsmt RESULT_VARIABLE rc
                    OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${pc_env} ${PKG_CONFIG} --modversion lsmt RESULT_VARIABLE rc2
                    OUTPUT_VARIABLE version OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0)
      message(FATAL_ERROR "run_consumer: pkg-config does not find the installed lsmt.pc")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    file(MAKE_DIRECTORY ${WORK_DIR}/consumer-build/bin)
    run(${CXX} -std=c++17 "-DEXPECTED_VERSION=\"${version}\"" ${CONSUMER_DIR}/main.cpp ${flags}
        -o ${WORK_DIR}/consumer-build/bin/consumer)
    run(${WORK_DIR}/consumer-build/bin/consumer)
    # Compiled mode: lsmt_compiled.pc (in libdir) adds the macro and the static library.
    file(GLOB compiled_pc ${WORK_DIR}/prefix/lib*/pkgconfig/lsmt_compiled.pc
         ${WORK_DIR}/prefix/lib/*/pkgconfig/lsmt_compiled.pc)
    if(NOT compiled_pc)
      message(FATAL_ERROR "run_consumer: no lsmt_compiled.pc was installed")
    endif()
    list(GET compiled_pc 0 compiled_pc)
    get_filename_component(compiled_pc_dir ${compiled_pc} DIRECTORY)
    execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${compiled_pc_dir}
                            ${PKG_CONFIG} --cflags --libs lsmt_compiled
                    RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "run_consumer: pkg-config does not read the installed lsmt_compiled.pc")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(${CXX} -std=c++17 "-DEXPECTED_VERSION=\"${version}\"" -DEXPECT_COMPILED_MODE
        ${CONSUMER_DIR}/main.cpp ${flags} -o ${WORK_DIR}/consumer-build/bin/consumer_compiled)
    run(${WORK_DIR}/consumer-build/bin/consumer_compiled)
    return()
  endif()
elseif(MODE STREQUAL "fetch_content")
  list(APPEND configure_args -DLSMT_SOURCE_DIR=${LSMT_SOURCE_DIR})
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()

run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer-build ${configure_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build ${config_args})
run(${WORK_DIR}/consumer-build/bin/consumer)
run(${WORK_DIR}/consumer-build/bin/consumer_compiled)
