# Every target of ours compiles with the same warnings; the build must stay clean.
add_library(hornbeam_warnings INTERFACE)
target_compile_options(hornbeam_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                   -Wnon-virtual-dtor -Wold-style-cast)
option(HORNBEAM_WERROR "Treat warnings as errors" OFF)
if(HORNBEAM_WERROR)
  target_compile_options(hornbeam_warnings INTERFACE -Werror)
endif()
