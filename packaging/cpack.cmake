# The Debian package: `cpack -G DEB` in the build directory writes pprofd_<version>_amd64.deb.
# Included from the top-level CMakeLists.txt after the agent's own install() of /usr/bin/pprofd.
#
#   /usr/bin/pprofd                              the daemon (stripped)
#   /lib/systemd/system/pprofd.service           one process named in /etc/default/pprofd
#   /lib/systemd/system/pprofd@.service          pprofd@UNIT: the main process of UNIT.service
#   /etc/default/pprofd                          conffile: PPROFD_TARGET, PPROFD_OPTS
#   /usr/lib/sysctl.d/60-pprofd.conf             kernel.perf_event_paranoid=2 (Debian's is 3)
#   /usr/share/doc/pprofd/README.md, docs/*.md, copyright, changelog.gz
#   /usr/share/man/man1/pprofd.1.gz              from pprofd --help
#   /usr/share/lintian/overrides/pprofd           tags that are intended, each with its reason
#
# Units go to /lib/systemd/system, where Debian 12's packages put them (not /usr/lib: dpkg does
# not know the two are one directory on a merged-/usr system).

install(FILES ${PROJECT_SOURCE_DIR}/systemd/pprofd.service ${PROJECT_SOURCE_DIR}/systemd/pprofd@.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/pprofd.default DESTINATION /etc/default RENAME pprofd)
# kernel.perf_event_paranoid=2 on Debian's kernels (3 refuses CAP_PERFMON): the file says why.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/pprofd-sysctl.conf DESTINATION /usr/lib/sysctl.d
        RENAME 60-pprofd.conf)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/pprofd)
# What Debian policy asks of every package (lintian checks them): the copyright file, the
# changelog gzipped at maximum compression without a timestamp (-9n), and the lintian
# overrides, each with its reason.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright DESTINATION share/doc/pprofd)
set(PPROFD_CHANGELOG_GZ ${CMAKE_CURRENT_BINARY_DIR}/packaging/changelog.gz)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/packaging/debian/changelog)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/packaging/debian/changelog
                OUTPUT_FILE ${PPROFD_CHANGELOG_GZ} COMMAND_ERROR_IS_FATAL ANY)
install(FILES ${PPROFD_CHANGELOG_GZ} DESTINATION share/doc/pprofd)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/lintian-overrides
        DESTINATION share/lintian/overrides RENAME pprofd)
# pprofd(1), made from `pprofd --help` (packaging/make_manpage.sh) and gzipped as the changelog.
set(PPROFD_MANPAGE_GZ ${CMAKE_CURRENT_BINARY_DIR}/packaging/pprofd.1.gz)
add_custom_command(
  OUTPUT ${PPROFD_MANPAGE_GZ}
  COMMAND ${PROJECT_SOURCE_DIR}/packaging/make_manpage.sh $<TARGET_FILE:pprofd> ${PROJECT_VERSION}
          ${PPROFD_MANPAGE_GZ}
  DEPENDS pprofd ${PROJECT_SOURCE_DIR}/packaging/make_manpage.sh
  COMMENT "Writing pprofd(1) from pprofd --help"
  VERBATIM)
add_custom_target(pprofd_manpage ALL DEPENDS ${PPROFD_MANPAGE_GZ})
install(FILES ${PPROFD_MANPAGE_GZ} DESTINATION share/man/man1)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/pprofd/docs
        FILES_MATCHING PATTERN "*.md")

# The compiler's version strings (.comment) serve no one at run time; dh_strip removes them too.
# Runs in the staging directory, after the agent's install() of the binary.
install(CODE "execute_process(COMMAND objcopy --remove-section=.comment
                              \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin/pprofd
                              COMMAND_ERROR_IS_FATAL ANY)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pprofd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The Maintainer field: who answers for the package (the identity of the project's commits).
set(PPROFD_DEB_MAINTAINER "pprofd maintainers <maintainers@users.noreply.b-seed-c5a7fcc8.example>"
    CACHE STRING "The Debian package's Maintainer field")
set(CPACK_PACKAGE_CONTACT "${PPROFD_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PPROFD_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Go-style /debug/pprof/ profiles of any running native process")
# Lines of at most 79 columns (Debian policy 5.6.13; lintian: extended-description-line-too-long).
set(CPACK_PACKAGE_DESCRIPTION
    "pprofd samples a running C, C++, Rust or other native process with eBPF
(CPU, heap, threads, off-CPU) and serves Go's /debug/pprof/ HTTP endpoints,
so `go tool pprof` works on it without a restart, recompiling, frame
pointers or debug info. Ships systemd units that run it as an unprivileged
dynamic user with only CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE,
CAP_DAC_READ_SEARCH and CAP_SYSLOG.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # pprofd_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the libraries the binary links (dpkg-shlibdeps), not a list kept by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# systemctl, for --systemd-unit and the units; the client that reads the profiles.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "golang-go")
# The RelWithDebInfo binary is mostly DWARF (about 45 MB); the package ships it stripped.
set(CPACK_STRIP_FILES ON)
# conffiles: dpkg keeps a changed /etc/default/pprofd on upgrade and removes it on purge only.
# The scripts tell a running systemd about the units (deb-systemd-helper is what debhelper would
# call; CPack packages carry their own).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Installed prefix of share/doc and bin.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
