# Runs PROGRAM (with optional ARGS, one string of space-separated arguments) in an empty directory
# DIR, removed first so every run starts fresh; fails if the program fails.
#   cmake -DPROGRAM=<exe> -DDIR=<scratch dir> ["-DARGS=--a=1 --b=2"] -P run_in_fresh_dir.cmake
cmake_minimum_required(VERSION 3.14)
if("${PROGRAM}" STREQUAL "" OR "${DIR}" STREQUAL "")
  message(FATAL_ERROR "run_in_fresh_dir.cmake: PROGRAM and DIR must be set")
endif()
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} failed (${rc})")
endif()
file(REMOVE_RECURSE ${DIR})
