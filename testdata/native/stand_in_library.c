/* A stand-in shared library with one symbol. Built as libc.so.6 with
   glibc_2_99.map, the symbol is at version GLIBC_2.99, so an extension linked
   against it records that it needs GLIBC_2.99 from libc.so.6, as a wheel built
   on a newer system does. Built under a name of its own and then left out, it
   is a system library the image does not have. */
void preflight_fixture_fn(void) {}
