# gallery.cmake — the face gallery (src/gallery): SQLite store (libsqlite3-dev), optional
# FAISS index (libfaiss-dev). Without SQLite the gallery builds as stubs that fail with
# FN_ERR_UNSUPPORTED naming the package; its tests are then not registered.
pkg_check_modules(SQLITE3 IMPORTED_TARGET sqlite3)
find_package(Threads REQUIRED)
if(SQLITE3_FOUND)
  message(STATUS "gallery: SQLite ${SQLITE3_VERSION} found")
  target_compile_definitions(facenet_obj PUBLIC FN_HAVE_SQLITE)
  target_link_libraries(facenet_obj PUBLIC PkgConfig::SQLITE3 Threads::Threads)
  target_link_libraries(facenet_shared PRIVATE PkgConfig::SQLITE3 Threads::Threads)
  set(FN_HAVE_SQLITE ON)
else()
  message(STATUS "gallery: SQLite not found: `facenet gallery` will fail (install libsqlite3-dev)")
  target_link_libraries(facenet_obj PUBLIC Threads::Threads)
  target_link_libraries(facenet_shared PRIVATE Threads::Threads)
  set(FN_HAVE_SQLITE OFF)
endif()
