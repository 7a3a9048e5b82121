# Debian 12 packages only. Pin Boost 1.81 (1.74 may be installed too) and Debian's CPython
# (pyenv's shims come first on PATH and would otherwise win; see ../shared/TOOLCHAIN.md).
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS program_options)
find_package(yaml-cpp REQUIRED)        # 0.7: the target is `yaml-cpp`
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)          # always the compiled spdlog::spdlog (header-only is slow)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)       # TLS on https:// binds (Debian's libssl-dev)
find_package(PkgConfig REQUIRED)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)  # HTTP/2 framing (libnghttp2-dev)

#
# HORNBEAM_PYTHON names another interpreter to embed (`PYTHON=/path/to/python3.13
# scripts/build`): a Python 3.12+ built with --enable-shared, for `context_mode: owngil`. Its
# own sysconfig says where its headers and libpython are (CMake 3.25's FindPython does not
# know 3.13), and the worker finds that libpython through its RPATH.
set(HORNBEAM_PYTHON "" CACHE FILEPATH "Python interpreter to embed (default: Debian's /usr/bin/python3)")
if(HORNBEAM_PYTHON)
  execute_process(
    COMMAND ${HORNBEAM_PYTHON} -c "import sys, sysconfig; v = sysconfig.get_config_var; print(';'.join([sys.executable, '%d.%d.%d' % sys.version_info[:3], sysconfig.get_paths()['include'], str(v('LIBDIR')), str(v('LDLIBRARY')), str(v('Py_ENABLE_SHARED'))]))"
    OUTPUT_VARIABLE python_facts OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE python_status)
  if(NOT python_status EQUAL 0)
    message(FATAL_ERROR "HORNBEAM_PYTHON=${HORNBEAM_PYTHON} does not run")
  endif()
  list(GET python_facts 0 Python3_EXECUTABLE)
  list(GET python_facts 1 Python3_VERSION)
  list(GET python_facts 2 python_include)
  list(GET python_facts 3 python_libdir)
  list(GET python_facts 4 python_library)
  list(GET python_facts 5 python_shared)
  if(NOT python_shared STREQUAL "1" OR NOT EXISTS "${python_libdir}/${python_library}")
    message(FATAL_ERROR
      "${Python3_EXECUTABLE} (Python ${Python3_VERSION}) has no shared libpython to embed: "
      "build it with --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install)")
  endif()
  add_library(Python3::Python SHARED IMPORTED)
  set_target_properties(Python3::Python PROPERTIES
    IMPORTED_LOCATION "${python_libdir}/${python_library}"
    INTERFACE_INCLUDE_DIRECTORIES "${python_include}")
  message(STATUS "Embedding Python ${Python3_VERSION} from ${Python3_EXECUTABLE}")
else()
  set(Python3_ROOT_DIR /usr)
  set(Python3_FIND_STRATEGY LOCATION)
  set(Python3_FIND_UNVERSIONED_NAMES NEVER)
  find_package(Python3 3.11 REQUIRED COMPONENTS Interpreter Development.Embed)
endif()
