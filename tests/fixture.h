// fixture.h: one-line comparisons with the PyTorch numbers in tests/fixtures/.
//
// tools/make_fixtures.py writes tests/fixtures/<name>.safetensors with keys "<case>.<role>";
//   auto f = fixture("matmul");
//   check_close(matmul(f["basic.a"], f["basic.b"]), f["basic.out"]);
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tensor/io/safetensors.h"
#include "tensor/ops.h"
#include "tensor/parallel/thread_pool.h"

#ifndef VITLAB_SOURCE_DIR
#define VITLAB_SOURCE_DIR "."
#endif

namespace vitlab::testing {

// Path of a file under tests/fixtures/.
inline std::string fixture_path(const std::string& file) {
    return std::string(VITLAB_SOURCE_DIR) + "/tests/fixtures/" + file;
}

// All tensors of tests/fixtures/<name>.safetensors; a missing key throws with its name.
class Fixture {
  public:
    explicit Fixture(const std::string& name)
        : name_(name), tensors_(load_safetensors(fixture_path(name + ".safetensors"))) {}
    const Tensor& operator[](const std::string& key) const {
        auto it = tensors_.find(key);
        if (it == tensors_.end())
            throw std::out_of_range("fixture " + name_ + " has no tensor '" + key + "'");
        return it->second;
    }
    const TensorMap& all() const { return tensors_; }

  private:
    std::string name_;
    TensorMap tensors_;
};

inline Fixture fixture(const std::string& name) {
    return Fixture(name);
}

// Uses n threads until the end of the scope, then puts the old count back.
struct ThreadsForTest {
    int saved = get_num_threads();
    explicit ThreadsForTest(int n) { set_num_threads(n); }
    ~ThreadsForTest() { set_num_threads(saved); }
    ThreadsForTest(const ThreadsForTest&) = delete;
    ThreadsForTest& operator=(const ThreadsForTest&) = delete;
};

// Same shape, and every |actual - expected| <= atol + rtol * |expected|. On failure it prints
// the shapes and the worst element.
inline void check_close(const Tensor& actual, const Tensor& expected, float atol = 1e-5f,
                        float rtol = 1e-5f) {
    REQUIRE_MESSAGE(actual.shape() == expected.shape(), "shape ", to_string(actual.shape()),
                    " != expected ", to_string(expected.shape()));
    const auto a = actual.to_vector();
    const auto e = expected.to_vector();
    size_t worst = 0;
    float worst_excess = 0.0f;
    bool ok = true;
    for (size_t i = 0; i < a.size(); ++i) {
        const float tol = atol + rtol * std::abs(e[i]);
        const float diff = std::abs(a[i] - e[i]);
        if (!(diff <= tol) && !(std::isnan(a[i]) && std::isnan(e[i]))) {
            if (ok || diff - tol > worst_excess) worst = i, worst_excess = diff - tol;
            ok = false;
        }
    }
    CHECK_MESSAGE(ok, "element ", worst, " of ", to_string(expected.shape()), ": got ",
                  ok ? 0.0f : a[worst], ", expected ", ok ? 0.0f : e[worst]);
}

}  // namespace vitlab::testing
