// The doctest runner: every tests/test_*.cpp file links into one program, build/.../tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
