# -DHORNBEAM_SANITIZE=address  → ASan + UBSan (leaks included)
# -DHORNBEAM_SANITIZE=thread   → TSan
# Applied to every target so that the tests run under the same instrumentation.
set(HORNBEAM_SANITIZE "" CACHE STRING "Sanitizer build: empty, 'address' (ASan+UBSan) or 'thread' (TSan)")
set_property(CACHE HORNBEAM_SANITIZE PROPERTY STRINGS "" address thread)

if(HORNBEAM_SANITIZE STREQUAL "address")
  set(_hb_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(HORNBEAM_SANITIZE STREQUAL "thread")
  set(_hb_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT HORNBEAM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "HORNBEAM_SANITIZE must be empty, 'address' or 'thread', not '${HORNBEAM_SANITIZE}'")
endif()
if(_hb_san)
  add_compile_options(${_hb_san})
  add_link_options(${_hb_san})
endif()
