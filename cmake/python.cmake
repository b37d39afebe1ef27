# The Python package python/facenet_c (ctypes over libfacenet.so): its pytest suites run from
# ctest with Debian's /usr/bin/python3 (numpy, pytest, Pillow, OpenCV: scripts/deps.sh), on
# this build's library and the checkout's models. A missing interpreter or module makes
# them fail, never skip. Not registered in sanitizer/fuzz builds: a Python process would
# need the sanitizer runtime preloaded before the interpreter.
set(FN_PYTHON3 /usr/bin/python3 CACHE FILEPATH "Debian's Python, with numpy and pytest")
if(FN_SANITIZE OR FN_FUZZ)
  message(STATUS "python: pytest suites not registered in sanitizer/fuzz builds")
else()
  if(NOT EXISTS ${FN_PYTHON3})
    message(STATUS "python: ${FN_PYTHON3} missing - the python_* tests will fail; install python3 python3-numpy python3-pytest (scripts/deps.sh)")
  endif()
  # one ctest entry per suite keeps each well under CI's per-test budget
  set(FN_PY_SUITES
      "core:test_core.py test_bad_input.py"
      "cli_parity:test_cli_parity.py test_landmarks.py"
      "install:test_install.py"
      "face_recognition:test_face_recognition.py"
      "face_recognition_examples:test_fr_examples.py"
      "facenet_pytorch:test_facenet_pytorch.py"
      "gallery:test_gallery.py")
  foreach(suite ${FN_PY_SUITES})
    string(REPLACE ":" ";" parts "${suite}")
    list(GET parts 0 name)
    list(GET parts 1 files)
    separate_arguments(files)
    list(TRANSFORM files PREPEND ${CMAKE_SOURCE_DIR}/python/tests/)
    add_test(NAME python_${name}
             COMMAND ${FN_PYTHON3} -m pytest -q -p no:cacheprovider ${files})
    set_tests_properties(python_${name} PROPERTIES TIMEOUT 1800
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
      ENVIRONMENT "FN_SOURCE_DIR=${CMAKE_SOURCE_DIR};FN_BUILD_DIR=${CMAKE_BINARY_DIR};FN_SHARED_DIR=${FN_SHARED_DIR};FACENET_LIB=${CMAKE_BINARY_DIR}/libfacenet.so;PYTHONDONTWRITEBYTECODE=1")
  endforeach()
endif()
