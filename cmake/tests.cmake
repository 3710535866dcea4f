find_program(BK_VALGRIND valgrind)

# bk_test_labels(TEST COMPONENT KIND): KIND is unit, integration or interop.
function(bk_test_labels test component kind)
  if(NOT kind MATCHES "^(unit|integration|interop)$")
    message(FATAL_ERROR "test ${test}: kind ${kind} is not unit, integration or interop")
  endif()
  set_tests_properties(${test} PROPERTIES LABELS "${component};${kind}")
  # The credential chain ends at EC2 instance metadata (169.254.169.254): no
  # test may reach past loopback, so a test that wants IMDS points it at a mock.
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT "AWS_EC2_METADATA_DISABLED=true")
endfunction()

# bk_add_test_dir(DIR LIBS...): every DIR/test_<module>.c becomes one CMocka
# executable and one CTest test named <component>.<module>. Adding a test file
# needs no CMake edit. Files in DIR/support/*.c are linked into every test of DIR.
#
# Labels: the component, and what the test needs, from a marker in its text:
#   unit         BK_TEST_UNIT: pure code, no server, no child process (also
#                runs under valgrind as valgrind.<component>.<module>)
#   interop      BK_TEST_INTEROP: a peer nobody here wrote (s3rver, awscli,
#                boto3, the AWS JS SDK, curl's command line, RGW)
#   integration  neither: our own servers and binaries, on loopback
# Tests defined by hand (scripts) pass their kind to bk_test_labels.
function(bk_add_test_dir component dir)
  file(GLOB test_sources CONFIGURE_DEPENDS ${dir}/test_*.c)
  file(GLOB support_sources CONFIGURE_DEPENDS ${dir}/support/*.c)
  if(support_sources)
    add_library(${component}_test_support STATIC ${support_sources})
    target_include_directories(${component}_test_support PUBLIC ${dir}/support)
    target_link_libraries(${component}_test_support PUBLIC ${ARGN} PkgConfig::CMOCKA)
    target_compile_definitions(${component}_test_support PUBLIC
      BK_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
      BK_FIXTURES_DIR="${CMAKE_SOURCE_DIR}/fixtures"
      BK_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  endif()
  set(targets)
  foreach(src ${test_sources})
    get_filename_component(name ${src} NAME_WE)
    string(REGEX REPLACE "^test_" "" module ${name})
    set(exe ${component}_${name})
    add_executable(${exe} ${src})
    list(APPEND targets ${exe})
    set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    target_link_libraries(${exe} PRIVATE ${ARGN} PkgConfig::CMOCKA Threads::Threads)
    if(support_sources)
      target_link_libraries(${exe} PRIVATE ${component}_test_support)
    endif()
    target_compile_definitions(${exe} PRIVATE
      BK_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
      BK_FIXTURES_DIR="${CMAKE_SOURCE_DIR}/fixtures"
      BK_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    add_test(NAME ${component}.${module} COMMAND ${exe})
    file(STRINGS ${src} unit_marker REGEX "BK_TEST_UNIT" LIMIT_COUNT 1)
    file(STRINGS ${src} interop_marker REGEX "BK_TEST_INTEROP" LIMIT_COUNT 1)
    if(unit_marker)
      set(kind unit)
    elseif(interop_marker)
      set(kind interop)
    else()
      set(kind integration)
    endif()
    # No test may hang CI: every test is bounded.
    set_tests_properties(${component}.${module} PROPERTIES TIMEOUT 300)
    bk_test_labels(${component}.${module} ${component} ${kind})
    if(unit_marker AND BK_VALGRIND AND NOT BKCACHE_SANITIZE)
      add_test(NAME valgrind.${component}.${module}
        COMMAND ${BK_VALGRIND} --quiet --error-exitcode=99 --leak-check=full
                --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
                $<TARGET_FILE:${exe}>)
      set_tests_properties(valgrind.${component}.${module} PROPERTIES TIMEOUT 900
        LABELS "valgrind;${component}" ENVIRONMENT "AWS_EC2_METADATA_DISABLED=true")
    endif()
  endforeach()
  set(${component}_TEST_TARGETS ${targets} PARENT_SCOPE)
endfunction()
