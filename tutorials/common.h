// common.h: the small helpers the tutorials share: a bilingual heading, a step printer, a
// stopwatch, a printed check.
//
// A tutorial prints a heading per step of the notebook's walk-through, in Chinese and English
// with the notebook's terms (图像块嵌入 Patch Embedding, ...), then its lines as
// "  code ... shape" and its checks ("[ok] softmax rows sum to 1 ..."), and returns exit_code()
// from main, which is 1 when any check failed, so `make run` in CI proves the numbers, not just
// that the programs compile.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>

#include "tensor/ops.h"
#include "tensor/util/exit_on_uncaught.h"

namespace tutorial {

// A step's heading, in both languages with the notebook's terms (its Chinese first):
//   heading("Step 2", "分类标记", "Class Token", "序列最前面多一个标记", "one more token, in
//   front")
//   -> "\nStep 2. 分类标记 Class Token\n  序列最前面多一个标记 | one more token, in front"
inline void heading(const std::string& step, const std::string& zh_term, const std::string& en_term,
                    const std::string& zh_what, const std::string& en_what) {
    fmt::print("\n{}. {} {}\n  {} | {}\n", step, zh_term, en_term, zh_what, en_what);
}

// One step of a walk-through, the code on the left and what it gives in a column on the right:
//   step("x = x.flatten(2)", x.shape())  ->  "  x = x.flatten(2)          (1, 768, 576)"
inline void step(const std::string& code, const std::string& what) {
    fmt::print("  {:<46}{}\n", code, what);
}
inline void step(const std::string& code, const vitlab::Shape& shape) {
    step(code, vitlab::to_string(shape));
}

// Wall-clock time since construction (or the last reset).
class Timer {
  public:
    Timer() : start_(std::chrono::steady_clock::now()) {}
    void reset() { start_ = std::chrono::steady_clock::now(); }
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    double ms() const { return 1000.0 * seconds(); }

  private:
    std::chrono::steady_clock::time_point start_;
};

inline int& failed_checks() {
    static int count = 0;
    return count;
}

// Prints "  [ok] what" or "  [FAILED] what" and remembers a failure for exit_code().
inline bool check(bool ok, const std::string& what) {
    fmt::print("  [{}] {}\n", ok ? "ok" : "FAILED", what);
    if (!ok) ++failed_checks();
    return ok;
}

// Return this from main: 0 when every check passed.
inline int exit_code() {
    if (failed_checks() == 0) return 0;
    fmt::print("{} check(s) FAILED\n", failed_checks());
    return 1;
}

// 86859496 -> "86,859,496".
inline std::string thousands(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

// Root mean square of all elements: the typical size of a number in x.
inline float rms(const vitlab::Tensor& x) {
    const vitlab::Tensor flat = x.reshape({-1});
    return std::sqrt(vitlab::mean(flat * flat, 0).item());
}

}  // namespace tutorial
