// Checks for exercise 02 (views: transpose, select, slice, flatten). Run: make exercise N=2
//
// Hand-computed geometries first (the notebook's shapes), then the cases where a flatten
// cannot be a view, negative dims, random chains of views compared with the library's own
// views, and the errors. A view is compared by shape, offset and the strides of every dim of
// size > 1 (a size-1 dim is never stepped along, so its stride does not matter), and then by
// reading every element through it.
#include <doctest/doctest.h>

#include <string>

#include "../check_helpers.h"
#include "exercise.h"

using namespace vitlab;
using exercises::View;

namespace {

std::string describe(const View& v) {
    return "shape " + to_string(v.shape) + ", strides " + to_string(v.strides) + ", offset " +
           std::to_string(v.offset);
}

// `mine` must describe the same view as the library's `expected`, both over root's storage.
// root is arange(n): each element's value is its position in the storage, so reading through
// a view is also a check of the addresses it computes.
void check_same_view(const View& mine, const Tensor& expected, const Tensor& root) {
    CAPTURE(describe(mine));
    CAPTURE(describe(exercises::view_of(expected)));
    REQUIRE(mine.shape == expected.shape());
    REQUIRE(mine.strides.size() == mine.shape.size());
    for (size_t d = 0; d < mine.shape.size(); ++d) {
        if (mine.shape[d] == 1) continue;
        CHECK_MESSAGE(mine.strides[d] == expected.stride(static_cast<int64_t>(d)), "stride of dim ",
                      d);
    }
    if (expected.numel() == 0) return;
    CHECK(mine.offset == expected.storage_offset());

    // Read every element through mine's geometry (after checking it stays inside the storage).
    const float* base = root.data();
    int64_t lowest = mine.offset, highest = mine.offset;
    for (size_t d = 0; d < mine.shape.size(); ++d) {
        const int64_t reach = (mine.shape[d] - 1) * mine.strides[d];
        (reach < 0 ? lowest : highest) += reach;
    }
    REQUIRE_MESSAGE(lowest >= 0, "the view reaches before the start of the storage");
    REQUIRE_MESSAGE(highest < root.numel(), "the view reaches past the end of the storage");
    int64_t wrong = 0;
    for_each_index(mine.shape, [&](const std::vector<int64_t>& index) {
        int64_t at = mine.offset;
        for (size_t d = 0; d < index.size(); ++d) at += index[d] * mine.strides[d];
        if (base[at] != expected.at(index)) ++wrong;
    });
    CHECK_MESSAGE(wrong == 0, wrong, " elements read through your view are not the library's");
}

Tensor make_root(const Shape& shape) {
    return arange(numel(shape)).reshape(shape);
}

}  // namespace

TEST_CASE("02 views: transpose swaps two sizes and two strides, by hand") {
    // (2, 3, 4) contiguous has strides (12, 4, 1); transpose(0, 2) -> (4, 3, 2), (1, 4, 12).
    const View x{{2, 3, 4}, {12, 4, 1}, 0};
    const View t = exercises::transpose(x, 0, 2);
    CHECK(t.shape == Shape{4, 3, 2});
    CHECK(t.strides == Shape{1, 4, 12});
    CHECK(t.offset == 0);
    const Tensor root = make_root({2, 3, 4});
    check_same_view(exercises::transpose(exercises::view_of(root), 0, 2), root.transpose(0, 2),
                    root);
}

TEST_CASE("02 views: the notebook's flatten(2).transpose(1, 2) on (1, 768, 24, 24)") {
    // x (1, 768, 24, 24) strides (442368, 576, 24, 1)
    //   .flatten(2)       -> (1, 768, 576) strides (442368, 576, 1)
    //   .transpose(1, 2)  -> (1, 576, 768) strides (442368, 1, 576)
    const View x{{1, 768, 24, 24}, {442368, 576, 24, 1}, 0};
    const std::optional<View> flat = exercises::flatten(x, 2, 3);
    REQUIRE_MESSAGE(flat.has_value(), "flatten(2) of a contiguous tensor is always a view");
    REQUIRE(flat->shape == Shape{1, 768, 576});
    CHECK(flat->strides == Shape{442368, 576, 1});
    const View t = exercises::transpose(*flat, 1, 2);
    REQUIRE(t.shape == Shape{1, 576, 768});
    CHECK(t.strides == Shape{442368, 1, 576});
    CHECK(t.offset == 0);
}

TEST_CASE("02 views: select removes a dim and moves the offset (the class token x[:, 0])") {
    // Tokens (2, 577, 768), strides (443136, 768, 1).
    const View x{{2, 577, 768}, {443136, 768, 1}, 0};
    const View cls = exercises::select(x, 1, 0);  // x[:, 0]: the class token of each image
    CHECK(cls.shape == Shape{2, 768});
    CHECK(cls.strides == Shape{443136, 1});
    CHECK(cls.offset == 0);
    const View fifth = exercises::select(x, 1, 5);  // x[:, 5]: starts 5 rows of 768 further
    CHECK(fifth.offset == 5 * 768);
    const View second_image = exercises::select(x, 0, 1);  // x[1]
    CHECK(second_image.shape == Shape{577, 768});
    CHECK(second_image.offset == 443136);
}

TEST_CASE("02 views: slice with a step multiplies the stride") {
    // (4, 10) strides (10, 1); x[:, 2:9:3] keeps columns 2, 5, 8.
    const View x{{4, 10}, {10, 1}, 0};
    const View s = exercises::slice(x, 1, 2, 9, 3);
    CHECK(s.shape == Shape{4, 3});
    CHECK(s.strides == Shape{10, 3});
    CHECK(s.offset == 2);
    // x[1:3] keeps rows 1 and 2: the offset moves one row.
    const View rows = exercises::slice(x, 0, 1, 3, 1);
    CHECK(rows.shape == Shape{2, 10});
    CHECK(rows.offset == 10);
    const Tensor root = make_root({4, 10});
    check_same_view(exercises::slice(exercises::view_of(root), 1, 2, 9, 3), root.slice(1, 2, 9, 3),
                    root);
}

TEST_CASE("02 views: flatten of dims that do not lie evenly in memory is not a view") {
    // A transposed (3, 4): walking its rows jumps by 1, its columns by 4. No single stride
    // walks the 12 elements in the flattened order, so PyTorch's flatten must copy.
    CHECK_FALSE(exercises::flatten(View{{4, 3}, {1, 4}, 0}, 0, 1).has_value());
    // The first 5 columns of a (4, 10), x[:, :5]: rows are 10 apart, not 5 * 1.
    CHECK_FALSE(exercises::flatten(View{{4, 5}, {10, 1}, 0}, 0, 1).has_value());
    // But every other column, x[:, ::2], is evenly spaced (0, 2, 4, ..., 38): rows are
    // 10 = 5 * 2 apart, so it flattens to one dim of stride 2.
    const std::optional<View> every_other = exercises::flatten(View{{4, 5}, {10, 2}, 0}, 0, 1);
    REQUIRE(every_other.has_value());
    CHECK(every_other->shape == Shape{20});
    CHECK(every_other->strides == Shape{2});
    // But rows 1..2 of a (4, 10), x[1:3], are 20 numbers in a row: a view at offset 10.
    const std::optional<View> rows = exercises::flatten(View{{2, 10}, {10, 1}, 10}, 0, 1);
    REQUIRE(rows.has_value());
    CHECK(rows->shape == Shape{20});
    CHECK(rows->strides == Shape{1});
    CHECK(rows->offset == 10);
    // And (2, 3, 4) transposed to (2, 4, 3): flattening only dim 0 with nothing is trivial,
    // flattening dims 1..2 is not a view.
    const View t{{2, 4, 3}, {12, 1, 4}, 0};
    CHECK_FALSE(exercises::flatten(t, 1, 2).has_value());
    const std::optional<View> same = exercises::flatten(t, 2, 2);
    REQUIRE(same.has_value());
    CHECK(same->shape == t.shape);
}

TEST_CASE("02 views: size-1 dims never block a flatten") {
    // A transposed (1, 5) is (5, 1) with strides (1, 5): its 5 numbers are still in a row.
    const std::optional<View> a = exercises::flatten(View{{5, 1}, {1, 5}, 0}, 0, 1);
    REQUIRE(a.has_value());
    CHECK(a->shape == Shape{5});
    CHECK(a->strides == Shape{1});
    // (3, 1, 4) with any stride on the size-1 dim.
    const std::optional<View> b = exercises::flatten(View{{3, 1, 4}, {4, 99, 1}, 0}, 0, 2);
    REQUIRE(b.has_value());
    CHECK(b->shape == Shape{12});
    CHECK(b->strides == Shape{1});
}

TEST_CASE("02 views: negative dims and indices count from the end") {
    const Tensor root = make_root({2, 3, 4});
    const View x = exercises::view_of(root);
    check_same_view(exercises::transpose(x, -1, -2), root.transpose(-1, -2), root);
    check_same_view(exercises::select(x, -1, -1), root.select(-1, -1), root);
    check_same_view(exercises::slice(x, -2, 1, 3, 1), root.slice(-2, 1, 3, 1), root);
    const std::optional<View> f = exercises::flatten(x, -2, -1);
    REQUIRE(f.has_value());
    check_same_view(*f, root.flatten(-2, -1), root);
}

TEST_CASE("02 views: random chains of views agree with vitlab's views, element by element") {
    Generator gen(7);
    auto pick = [&gen](int64_t n) {  // uniform in [0, n)
        return std::min(static_cast<int64_t>(gen.uniform() * static_cast<float>(n)), n - 1);
    };
    for (int trial = 0; trial < 200; ++trial) {
        Shape shape(2 + pick(3));
        for (auto& s : shape) s = 1 + pick(5);
        const Tensor root = make_root(shape);
        Tensor expected = root;
        View mine = exercises::view_of(root);
        // The views applied so far, printed with any failure: "x (2, 3, 4) .transpose(0, 2) ...".
        std::string chain = "x " + to_string(shape);
        INFO("trial ", trial, ", the chain of views: ", chain);
        for (int step = 0; step < 6; ++step) {
            const int64_t rank = expected.dim();
            const int64_t op = pick(4);
            auto num = [](int64_t v) { return std::to_string(v); };
            if (op == 0) {
                const int64_t a = pick(rank) - (pick(2) ? rank : 0), b = pick(rank);
                chain += " .transpose(" + num(a) + ", " + num(b) + ")";
                expected = expected.transpose(a, b);
                mine = exercises::transpose(mine, a, b);
            } else if (op == 1 && rank > 1) {
                const int64_t d = pick(rank),
                              i = pick(expected.size(d)) - (pick(2) ? expected.size(d) : 0);
                chain += " .select(" + num(d) + ", " + num(i) + ")";
                expected = expected.select(d, i);
                mine = exercises::select(mine, d, i);
            } else if (op == 2) {
                const int64_t d = pick(rank), n = expected.size(d);
                const int64_t start = pick(n), end = start + 1 + pick(n - start),
                              step_by = 1 + pick(3);
                chain += " .slice(" + num(d) + ", " + num(start) + ", " + num(end) + ", " +
                         num(step_by) + ")";
                expected = expected.slice(d, start, end, step_by);
                mine = exercises::slice(mine, d, start, end, step_by);
            } else {
                const int64_t s = pick(rank), e = s + pick(rank - s);
                chain += " .flatten(" + num(s) + ", " + num(e) + ")";
                const Tensor flat = expected.flatten(s, e);
                const std::optional<View> f = exercises::flatten(mine, s, e);
                const bool is_view = flat.shares_storage_with(root);
                // A std::string: doctest prints a bare const char* from ?: as a pointer.
                const std::string why = is_view
                                            ? "this flatten can be a view, but you returned nullopt"
                                            : "this flatten needs a copy, but you returned a view";
                REQUIRE_MESSAGE(f.has_value() == is_view, why);
                if (!is_view) break;  // the chain continues on a copy: stop here
                expected = flat;
                mine = *f;
            }
            check_same_view(mine, expected, root);
        }
    }
}

TEST_CASE("02 views: the input view is left unchanged") {
    // Each function returns a new View; the one it was given keeps its shape, strides, offset.
    const View original{{2, 3, 4}, {12, 4, 1}, 5};
    const View x = original;
    auto same = [&](const char* op) {
        INFO("after ", op, ": x is ", describe(x), ", it was ", describe(original));
        CHECK((x.shape == original.shape && x.strides == original.strides &&
               x.offset == original.offset));
    };
    exercises::transpose(x, 0, 2);
    same("transpose(x, 0, 2)");
    exercises::select(x, 1, 2);
    same("select(x, 1, 2)");
    exercises::slice(x, 2, 1, 4, 2);
    same("slice(x, 2, 1, 4, 2)");
    exercises::flatten(x, 1, 2);
    same("flatten(x, 1, 2)");
}

TEST_CASE("02 views: out-of-range dims and indices throw IndexError") {
    const View x{{2, 3}, {3, 1}, 0};
    CHECK_THROWS_AS(exercises::transpose(x, 0, 2), IndexError);
    CHECK_THROWS_AS(exercises::select(x, 1, 3), IndexError);
    CHECK_THROWS_AS(exercises::select(x, 1, -4), IndexError);
    CHECK_THROWS_AS(exercises::flatten(x, -3, 1), IndexError);
}
