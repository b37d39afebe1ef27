# MPI (issue 17): data-parallel training and sharded dataset jobs under mpirun.
# Optional: without Open MPI the library builds, runs as one process, and says what to
# install when started by a launcher with several ranks.
find_package(MPI COMPONENTS C QUIET)
if(MPI_C_FOUND)
  message(STATUS "MPI: found (MPI ${MPI_C_VERSION}): mpirun -np N facenet train|align|export-embeddings|validate")
  target_compile_definitions(facenet_obj PUBLIC FN_HAVE_MPI)
  target_link_libraries(facenet_obj PUBLIC MPI::MPI_C)
  target_link_libraries(facenet_shared PRIVATE MPI::MPI_C)
  set(FN_HAVE_MPI ON)
  # registered only when MPI is built; CI installs Open MPI (scripts/deps.sh), so they run there
  foreach(t mpi_train mpi_dataset)
    add_test(NAME ${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/${t}.sh ${CMAKE_BINARY_DIR} ${FN_SHARED_DIR} ${CMAKE_SOURCE_DIR})
    set_tests_properties(${t} PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR} TIMEOUT 600)
  endforeach()
else()
  message(STATUS "MPI: not found: facenet runs as one process (install libopenmpi-dev openmpi-bin for mpirun)")
  set(FN_HAVE_MPI OFF)
endif()
