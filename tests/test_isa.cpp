// test_isa.cpp: choosing the instruction set of the SIMD kernels at run time (tensor/cpu/isa.h).
// The operator tests (matmul, softmax, GELU, layer norm, attention, linear) run every set the
// CPU has; these check the choosing itself.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tests/fixture.h"

using namespace vitlab;

TEST_CASE(
    "isa: portable is always available; the list is slowest first and ends with the default") {
    const std::vector<Isa> isas = available_isas();
    REQUIRE_FALSE(isas.empty());
    CHECK(isas.front() == Isa::Portable);
    for (size_t i = 1; i < isas.size(); ++i) CHECK(isas[i - 1] < isas[i]);
    for (Isa isa : isas) CHECK(isa_available(isa));
    if (std::getenv("VITLAB_ISA") == nullptr) CHECK(current_isa() == isas.back());
}

TEST_CASE("isa: names round-trip, and an unknown name is an error naming the choices") {
    for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512}) CHECK(parse_isa(to_string(isa)) == isa);
    CHECK_THROWS_WITH_AS(parse_isa("avx-512"),
                         "unknown instruction set 'avx-512': expected portable, avx2 or avx512",
                         std::invalid_argument);
}

TEST_CASE("isa: set_isa refuses a set this CPU or build cannot run, and keeps the current one") {
    const Isa before = current_isa();
    for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512}) {
        if (isa_available(isa)) continue;
        INFO(to_string(isa));
        CHECK_THROWS_WITH_AS(set_isa(isa), doctest::Contains(to_string(isa)),
                             std::invalid_argument);
        CHECK_THROWS_WITH_AS(set_isa(isa), doctest::Contains("expected one of: portable"),
                             std::invalid_argument);
        CHECK(current_isa() == before);
    }
}

TEST_CASE("isa: ScopedIsa switches the kernels for its scope, then puts the previous set back") {
    const Isa before = current_isa();
    for (Isa isa : available_isas()) {
        {
            ScopedIsa use(isa);
            CHECK(current_isa() == isa);
            CHECK(isa_summary().rfind(to_string(isa), 0) == 0);  // the summary starts with it
        }
        CHECK(current_isa() == before);
    }
}

TEST_CASE("isa: a packed b keeps the set it was packed for, whatever the current one is") {
    Generator gen(3);
    const Tensor a = randn({37, 70}, gen), b = randn({70, 45}, gen);
    for (Isa packed_with : available_isas()) {
        ScopedIsa outer(packed_with);
        const PackedB packed = pack_b(b);
        CHECK(packed.isa == packed_with);
        const Tensor want = matmul_blocked(a, b);
        for (Isa isa : available_isas()) {
            ScopedIsa inner(isa);
            INFO("packed with ", to_string(packed_with), ", multiplied under ", to_string(isa));
            CHECK(max_abs_diff(matmul(a, packed), want) == 0.0f);
        }
    }
}
