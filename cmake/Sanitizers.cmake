# -DHORNBEAM_SANITIZE=address  → ASan + UBSan (leaks included)
# -DHORNBEAM_SANITIZE=thread   → TSan
# -DHORNBEAM_SANITIZE=fuzzer   → ASan + UBSan with libFuzzer's coverage (clang; scripts/fuzz)
# Applied to every target so that the tests run under the same instrumentation.
set(HORNBEAM_SANITIZE "" CACHE STRING "Sanitizer build: empty, 'address' (ASan+UBSan) or 'thread' (TSan)")
set_property(CACHE HORNBEAM_SANITIZE PROPERTY STRINGS "" address thread fuzzer)

if(HORNBEAM_SANITIZE STREQUAL "address")
  set(_hb_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(HORNBEAM_SANITIZE STREQUAL "thread")
  set(_hb_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(HORNBEAM_SANITIZE STREQUAL "fuzzer")
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "HORNBEAM_SANITIZE=fuzzer needs clang (CXX=clang++)")
  endif()
  set(_hb_san -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
              -fno-omit-frame-pointer)
elseif(NOT HORNBEAM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "HORNBEAM_SANITIZE must be empty, 'address', 'thread' or 'fuzzer', not '${HORNBEAM_SANITIZE}'")
endif()
if(_hb_san)
  add_compile_options(${_hb_san})
  if(HORNBEAM_SANITIZE STREQUAL "fuzzer")
    add_link_options(-fsanitize=address,undefined)  # libFuzzer's main only in the fuzz targets
  else()
    add_link_options(${_hb_san})
  endif()
endif()
