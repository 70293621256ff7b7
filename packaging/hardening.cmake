# Debian's hardening build flags, as `DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags`
# gives them on Debian 12 (lintian checks the packaged binary for fortify and bindnow): every
# target, so the static libraries linked into pprofd are fortified too. PIE is GCC's default on
# Debian. Included from the top-level CMakeLists.txt; off with -DPPROFD_HARDENING=OFF.
option(PPROFD_HARDENING "Build with Debian's hardening flags (fortify, stack protector, relro, bindnow)" ON)
if(PPROFD_HARDENING)
  add_compile_options(-fstack-protector-strong -fstack-clash-protection -fcf-protection
                      -Wformat -Werror=format-security)
  # glibc's fortified functions need optimization; a Debug build (-O0) would only warn.
  add_compile_definitions($<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
  add_link_options(LINKER:-z,relro LINKER:-z,now)
endif()
