/* An extension module that calls into glibc_2_99_stub.c's GLIBC_2.99 symbol. */
void preflight_fixture_fn(void);

void *PyInit__hello(void) {
    preflight_fixture_fn();
    return 0;
}
