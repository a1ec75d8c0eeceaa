# --- README examples: every ```cpp block of README.md is a whole program, built and run ----------
# Keeps the README honest: an example that stops compiling or throws fails the suite. They build
# in compiled mode (lsmt::lsmt_compiled), which checks that lsmt.hpp declares all a user calls;
# the unit tests and the other examples build header-only.
set(lsmt_readme ${PROJECT_SOURCE_DIR}/README.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${lsmt_readme})
file(READ ${lsmt_readme} lsmt_text)
set(lsmt_snippet 0)
while(TRUE)
  string(FIND "${lsmt_text}" "```cpp\n" lsmt_start)
  if(lsmt_start EQUAL -1)
    break()
  endif()
  math(EXPR lsmt_start "${lsmt_start} + 7")
  string(SUBSTRING "${lsmt_text}" ${lsmt_start} -1 lsmt_text)
  string(FIND "${lsmt_text}" "\n```" lsmt_end)
  string(SUBSTRING "${lsmt_text}" 0 ${lsmt_end} lsmt_code)
  math(EXPR lsmt_end "${lsmt_end} + 4")
  string(SUBSTRING "${lsmt_text}" ${lsmt_end} -1 lsmt_text)
  math(EXPR lsmt_snippet "${lsmt_snippet} + 1")
  set(lsmt_src ${CMAKE_CURRENT_BINARY_DIR}/readme/example_${lsmt_snippet}.cpp)
  file(GENERATE OUTPUT ${lsmt_src} CONTENT "${lsmt_code}\n")
  add_executable(readme_example_${lsmt_snippet} ${lsmt_src})
  target_link_libraries(readme_example_${lsmt_snippet} PRIVATE lsmt::lsmt_compiled)
  lsmt_set_warnings(readme_example_${lsmt_snippet})
  add_test(NAME readme_example_${lsmt_snippet}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:readme_example_${lsmt_snippet}>
      -DDIR=${CMAKE_CURRENT_BINARY_DIR}/readme/run_${lsmt_snippet}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/run_in_fresh_dir.cmake)
  set_tests_properties(readme_example_${lsmt_snippet} PROPERTIES LABELS readme)
endwhile()
if(lsmt_snippet EQUAL 0)
  message(FATAL_ERROR "README.md has no ```cpp examples to test")
endif()
