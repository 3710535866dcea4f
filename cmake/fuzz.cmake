# Fuzzing. Two things live here:
#
#  - always (with tests): the fuzz targets of impl/fuzz and mock-s3/fuzz built
#    as plain functions (bk_fuzz_<name>) into fuzz_entries, linked into
#    the impl.fuzz_regressions test, which replays every corpus and crash file;
#  - with -DBKCACHE_FUZZ=ON (clang only): everything is compiled with
#    sanitizer coverage, ASan and UBSan, and each target becomes a libFuzzer
#    executable fuzz_<name> in build/bin. tools/fuzz drives them.
#
# Included from the top-level CMakeLists.txt before the components; the targets
# are created once every component is defined (cmake_language(DEFER)).

option(BKCACHE_FUZZ "Build libFuzzer targets (clang only; implies ASan+UBSan)" OFF)

set(BK_FUZZ_DIRS ${CMAKE_SOURCE_DIR}/impl/fuzz ${CMAKE_SOURCE_DIR}/mock-s3/fuzz)

# The top-level flags include GCC-only warning switches; clang (needed for
# fuzzing) must not turn them into -Werror failures.
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_compile_options(-Wno-unknown-warning-option)
endif()

if(BKCACHE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "BKCACHE_FUZZ needs clang (configure with CC=clang)")
  endif()
  # Coverage for libFuzzer in every object; the fuzzer runtime itself is
  # linked only into the fuzz executables.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer -U_FORTIFY_SOURCE)
  # clang warns where GCC does not; a fuzz build reports those but must not
  # stop on them (the GCC builds keep -Werror).
  add_compile_options(-Wno-error)
  add_link_options(-fsanitize=address,undefined)
endif()

function(bk_fuzz_define_targets)
  file(GLOB fuzz_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/impl/fuzz/fuzz_*.c)
  file(GLOB mock_fuzz_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/mock-s3/fuzz/fuzz_*.c)
  set(libs bkcache)
  if(TARGET mocks3)
    list(APPEND fuzz_sources ${mock_fuzz_sources})
    list(APPEND libs mocks3)
  endif()
  # Fuzz targets reach private parsers: impl's S3 XML, the graph loader's JSON
  # tree, the mock's router.
  set(includes ${CMAKE_SOURCE_DIR}/impl/fuzz ${CMAKE_SOURCE_DIR}/impl/s3 ${CMAKE_SOURCE_DIR}/impl/model
               ${CMAKE_SOURCE_DIR}/mock-s3/src)

  if(TARGET impl_test_fuzz_regressions)
    add_library(fuzz_entries STATIC ${fuzz_sources})
    target_include_directories(fuzz_entries PUBLIC ${includes})
    target_link_libraries(fuzz_entries PUBLIC ${libs})
    if(NOT TARGET mocks3)
      target_compile_definitions(fuzz_entries PUBLIC BK_FUZZ_NO_MOCK)
    endif()
    target_link_libraries(impl_test_fuzz_regressions PRIVATE fuzz_entries)
  endif()

  if(BKCACHE_FUZZ)
    foreach(src ${fuzz_sources})
      get_filename_component(name ${src} NAME_WE)
      add_executable(${name} ${src})
      target_include_directories(${name} PRIVATE ${includes})
      target_compile_definitions(${name} PRIVATE BK_LIBFUZZER)
      target_link_libraries(${name} PRIVATE ${libs})
      target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    endforeach()
  endif()
endfunction()

cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL bk_fuzz_define_targets)
