# PostgreSQL gallery store (issue 15): src/gallery/store_pg.c is compiled always and holds a
# stub that fails with FN_ERR_UNSUPPORTED unless libpq is found here (FN_HAVE_PG).
pkg_check_modules(LIBPQ IMPORTED_TARGET libpq)
if(LIBPQ_FOUND)
  message(STATUS "PostgreSQL gallery: libpq ${LIBPQ_VERSION} found (postgresql:// galleries)")
  target_compile_definitions(facenet_obj PUBLIC FN_HAVE_PG=1)
  target_link_libraries(facenet_obj PUBLIC PkgConfig::LIBPQ)
  target_link_libraries(facenet_shared PRIVATE PkgConfig::LIBPQ)
else()
  message(STATUS "PostgreSQL gallery: OFF (libpq not found: install Debian libpq-dev and postgresql)")
endif()

# Tests against a real server: each runs under tests/pg/with_cluster.sh, which starts a
# throwaway cluster (initdb + pg_ctl in a temporary folder, Unix socket only) and stops it
# at the end, also on failure. Registered only when the backend is built (CI installs it).
if(LIBPQ_FOUND)
  file(GLOB FN_PG_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/pg/test_*.c)
  foreach(t ${FN_PG_TESTS})
    get_filename_component(name ${t} NAME_WE)
    add_executable(${name} ${t})
    target_include_directories(${name} PRIVATE ${FN_INTERNAL_INCLUDES} ${CMAKE_SOURCE_DIR}/tests)
    target_compile_definitions(${name} PRIVATE FN_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
      FN_SHARED_DIR="${FN_SHARED_DIR}" FN_BUILD_DIR="${CMAKE_BINARY_DIR}")
    target_link_libraries(${name} PRIVATE facenet PkgConfig::LIBPQ)
    add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg/with_cluster.sh $<TARGET_FILE:${name}>)
    set_tests_properties(${name} PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR} TIMEOUT 600)
  endforeach()
  # Shell tests of the CLI on a cluster: tests/pg/cli_*.sh BUILD_DIR SHARED_DIR SOURCE_DIR.
  file(GLOB FN_PG_CLI_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/pg/cli_*.sh)
  foreach(t ${FN_PG_CLI_TESTS})
    get_filename_component(name ${t} NAME_WE)
    add_test(NAME ${name} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg/with_cluster.sh bash ${t}
             ${CMAKE_BINARY_DIR} ${FN_SHARED_DIR} ${CMAKE_SOURCE_DIR})
    set_tests_properties(${name} PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR} TIMEOUT 600)
  endforeach()
  # Two `facenet serve` nodes on one cluster (when the service is built: cmake/serve.cmake).
  if(FN_HAVE_SERVE)
    add_test(NAME serve_two_nodes COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg/with_cluster.sh bash
             ${CMAKE_SOURCE_DIR}/tests/pg/serve_two_nodes.sh ${CMAKE_BINARY_DIR} ${FN_SHARED_DIR} ${CMAKE_SOURCE_DIR})
    set_tests_properties(serve_two_nodes PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR} TIMEOUT 600)
  endif()
  # The gallery's own suite, unchanged, against PostgreSQL (it reads FN_TEST_GALLERY_URI).
  if(TARGET test_gallery)
    add_test(NAME test_gallery_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg/with_cluster.sh $<TARGET_FILE:test_gallery>)
    set_tests_properties(test_gallery_pg PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR} TIMEOUT 600)
  endif()
endif()
