/* An extension module that calls into stand_in_library.c's symbol. */
void preflight_fixture_fn(void);

void *PyInit__hello(void) {
    preflight_fixture_fn();
    return 0;
}
