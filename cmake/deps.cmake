# Every dependency comes from a Debian -dev package through pkg-config. When one is
# missing, say which package brings it, so the fix is one apt-get away.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

function(bk_require_pkg target module debian_package)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR
      "${module} not found (pkg-config). Install it with: apt-get install ${debian_package}")
  endif()
endfunction()

bk_require_pkg(CURL libcurl libcurl4-openssl-dev)
bk_require_pkg(CRYPTO libcrypto libssl-dev)
bk_require_pkg(MHD libmicrohttpd libmicrohttpd-dev)
bk_require_pkg(JANSSON jansson libjansson-dev)
bk_require_pkg(EXPAT expat libexpat1-dev)
if(BKCACHE_TESTS)
  bk_require_pkg(CMOCKA cmocka libcmocka-dev)
endif()
