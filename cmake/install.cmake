# bkcache.pc is written at install time, so that `cmake --install --prefix P`
# produces a pkg-config file that points at P, whatever prefix was configured.
install(CODE "
  set(BK_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(BK_PC_LIBDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")
  set(BK_PC_INCLUDEDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/bkcache.pc.in\" \"${CMAKE_BINARY_DIR}/bkcache.pc\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/bkcache.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
