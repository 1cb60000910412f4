/* A stand-in libc.so.6 that defines one symbol at version GLIBC_2.99
   (glibc_2_99.map). An extension linked against it records that it needs
   GLIBC_2.99 from libc.so.6, as a wheel built on a newer system does. */
void preflight_fixture_fn(void) {}
