# `make install` and the .deb (scripts/package, or `cpack` in a build folder): the three
# binaries, man pages (help2man from their --help, hornbeam.yaml(5) from the settings table),
# the systemd units, a default /etc/hornbeam/hornbeam.yaml serving the bundled example, the
# docs. Runtime dependencies come from the binaries themselves (dpkg-shlibdeps).
install(TARGETS hornbeam-arbiter hornbeam-worker hornbeamctl RUNTIME DESTINATION bin)
install(FILES packaging/deb/hornbeam.yaml DESTINATION /etc/hornbeam)
install(FILES packaging/systemd/hornbeam.service packaging/systemd/hornbeam.socket
        DESTINATION lib/systemd/system)
install(DIRECTORY examples/hello DESTINATION share/hornbeam/examples)
install(DIRECTORY docs/ DESTINATION share/doc/hornbeam)
install(FILES README.md DESTINATION share/doc/hornbeam)

find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(man_dir ${CMAKE_CURRENT_BINARY_DIR}/man)
  set(man_pages)
  foreach(program hornbeam-arbiter hornbeam-worker hornbeamctl)
    add_custom_command(
      OUTPUT ${man_dir}/${program}.1.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${man_dir}
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1 --source hornbeam
              --output ${man_dir}/${program}.1 $<TARGET_FILE:${program}>
      COMMAND gzip -9nf ${man_dir}/${program}.1
      DEPENDS ${program}
      COMMENT "man page of ${program}")
    list(APPEND man_pages ${man_dir}/${program}.1.gz)
    install(FILES ${man_dir}/${program}.1.gz DESTINATION share/man/man1)
  endforeach()
  add_custom_command(
    OUTPUT ${man_dir}/hornbeam.yaml.5.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${man_dir}
    COMMAND $<TARGET_FILE:hornbeam-settings-doc> --man > ${man_dir}/hornbeam.yaml.5
    COMMAND gzip -9nf ${man_dir}/hornbeam.yaml.5
    DEPENDS hornbeam-settings-doc
    COMMENT "man page of hornbeam.yaml")
  list(APPEND man_pages ${man_dir}/hornbeam.yaml.5.gz)
  install(FILES ${man_dir}/hornbeam.yaml.5.gz DESTINATION share/man/man5)
  add_custom_target(man-pages ALL DEPENDS ${man_pages})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hornbeam)
set(CPACK_PACKAGE_VENDOR hornbeam)
set(CPACK_PACKAGE_CONTACT "hornbeam maintainers <hornbeam@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "application server for Python web apps (WSGI and ASGI)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# The embedded interpreter needs its standard library, not only libpython.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles)
include(CPack)
