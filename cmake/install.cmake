
set(BK_PC_LIBS_PRIVATE "-lcurl -lcrypto -ljansson -lexpat -lpthread")
configure_file(${CMAKE_SOURCE_DIR}/cmake/bkcache.pc.in ${CMAKE_BINARY_DIR}/bkcache.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/bkcache.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
