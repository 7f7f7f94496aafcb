// test_views.cpp: views share storage and only change shape, strides and offset
// (tensor/tensor.h, tensor/views.cpp).
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;

namespace {

// 0, 1, 2, ... laid out in shape, so every element's value is its own storage position.
Tensor iota(const Shape& shape) {
    return arange(numel(shape)).reshape(shape);
}

// "To the end" for slice(); tools/fixtures/views.py uses the same number.
constexpr int64_t kEnd = int64_t{1} << 62;

}  // namespace

// ---- reshape and view -----------------------------------------------------------------------

TEST_CASE("view: reinterprets a contiguous tensor without copying") {
    const Tensor x = iota({2, 3, 4});
    const Tensor v = x.view({6, 4});
    CHECK(v.shape() == Shape{6, 4});
    CHECK(v.strides() == Shape{4, 1});
    CHECK(v.shares_storage_with(x));
    CHECK(v.at({5, 3}) == 23.0f);
}

TEST_CASE("view and reshape: one -1 is inferred from the element count") {
    const Tensor x = iota({2, 3, 4});
    CHECK(x.view({-1}).shape() == Shape{24});
    CHECK(x.view({4, -1}).shape() == Shape{4, 6});
    CHECK(x.reshape({-1, 2, 3}).shape() == Shape{4, 2, 3});
    CHECK(zeros({2, 0, 3}).view({-1, 3}).shape() == Shape{0, 3});
}

TEST_CASE("view and reshape: bad shapes are errors naming the shape and the size") {
    const Tensor x = iota({4, 6});
    CHECK_THROWS_WITH_AS(x.view({5, -1}),
                         doctest::Contains("view: shape (5, -1) is invalid for input of size 24"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(x.reshape({5, 5}),
                         doctest::Contains("reshape: shape (5, 5) is invalid for input of size 24"),
                         ShapeError);
    CHECK_THROWS_WITH_AS(x.view({-1, -1}), doctest::Contains("only one dim can be -1"), ShapeError);
    CHECK_THROWS_AS(x.view({-2, -12}), ShapeError);
    // With 0 elements, -1 could be anything: torch refuses and so do we.
    CHECK_THROWS_AS(zeros({2, 0}).view({-1, 0}), ShapeError);
}

TEST_CASE("view: strides that cannot be merged are an error; reshape copies instead") {
    const Tensor x = iota({4, 6});
    const Tensor t = x.transpose(0, 1);  // (6, 4), strides (1, 6)
    CHECK_THROWS_WITH_AS(t.view({24}),
                         doctest::Contains("view: cannot view a tensor of shape (6, 4) with "
                                           "strides (1, 6) as (24,)"),
                         ShapeError);
    const Tensor r = t.reshape({24});
    CHECK_FALSE(r.shares_storage_with(x));
    CHECK(r.is_contiguous());
    CHECK(r.to_vector() == t.to_vector());
    // When a view is possible, reshape returns one.
    const Tensor rv = x.reshape({2, 12});
    CHECK(rv.shares_storage_with(x));
}

TEST_CASE("view: a sliced tensor can still split dims inside a contiguous run") {
    const Tensor rows = iota({4, 6}).slice(1, 0, 4);  // (4, 4), strides (6, 1)
    const Tensor v = rows.view({4, 2, 2});
    CHECK(v.strides() == Shape{6, 2, 1});
    CHECK(v.at({3, 1, 1}) == 21.0f);
    CHECK_THROWS_AS(rows.view({16}), ShapeError);  // rows are 6 apart, not 4
}

// ---- flatten, transpose, permute --------------------------------------------------------------

TEST_CASE("flatten: merges dims start..end, negative dims included") {
    const Tensor x = iota({2, 3, 4, 5});
    CHECK(x.flatten().shape() == Shape{120});
    CHECK(x.flatten(1).shape() == Shape{2, 60});
    CHECK(x.flatten(1, 2).shape() == Shape{2, 12, 5});
    CHECK(x.flatten(-3, -2).shape() == Shape{2, 12, 5});
    CHECK(x.flatten(2, 2).shape() == Shape{2, 3, 4, 5});
    CHECK(x.flatten(2).shares_storage_with(x));
    CHECK(full({}, 3.0f).flatten().shape() == Shape{1});
}

TEST_CASE("flatten: start after end, or a dim out of range, is an error") {
    const Tensor x = zeros({3, 4});
    CHECK_THROWS_WITH_AS(x.flatten(1, 0),
                         doctest::Contains("flatten: start_dim 1 must not come after end_dim 0"),
                         IndexError);
    CHECK_THROWS_AS(x.flatten(-1, -2), IndexError);
    CHECK_THROWS_WITH_AS(x.flatten(0, 2),
                         doctest::Contains("flatten: dim 2 is out of range for a tensor of rank 2"),
                         IndexError);
}

TEST_CASE("flatten: the ViT patch tokens, (1, 768, 24, 24) -> (1, 576, 768)") {
    const Tensor x = zeros({1, 768, 24, 24});
    const Tensor tokens = x.flatten(2).transpose(1, 2);
    CHECK(tokens.shape() == Shape{1, 576, 768});
    CHECK(tokens.strides() == Shape{442368, 1, 576});
    CHECK_FALSE(tokens.is_contiguous());
}

TEST_CASE("transpose: swaps two sizes and their strides") {
    const Tensor x = iota({2, 3, 4});
    const Tensor t = x.transpose(0, 2);
    CHECK(t.shape() == Shape{4, 3, 2});
    CHECK(t.strides() == Shape{1, 4, 12});
    CHECK(t.at({3, 1, 1}) == x.at({1, 1, 3}));
    CHECK(x.transpose(-1, -2).shape() == Shape{2, 4, 3});
    CHECK(x.transpose(1, 1).strides() == x.strides());
    CHECK_THROWS_WITH_AS(
        x.transpose(0, 3),
        doctest::Contains("transpose: dim 3 is out of range for a tensor of rank 3"), IndexError);
}

TEST_CASE("permute: reorders dims; repeated or missing dims are errors") {
    const Tensor x = iota({2, 3, 4});
    const Tensor p = x.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.strides() == Shape{1, 12, 4});
    CHECK(p.at({3, 1, 2}) == x.at({1, 2, 3}));
    CHECK(x.permute({-1, -3, -2}).shape() == Shape{4, 2, 3});
    CHECK_THROWS_WITH_AS(x.permute({0, 0, 1}), doctest::Contains("permute: dim 0 is repeated"),
                         IndexError);
    CHECK_THROWS_WITH_AS(x.permute({0, 1}),
                         doctest::Contains("permute: got 2 dims for a tensor of rank 3"),
                         IndexError);
    CHECK_THROWS_WITH_AS(x.permute({0, 1, 3}), doctest::Contains("permute: dim 3 is out of range"),
                         IndexError);
}

// ---- unsqueeze, squeeze ---------------------------------------------------------------------

TEST_CASE("unsqueeze: inserts a size-1 dim at any position, negative included") {
    const Tensor x = iota({2, 3});
    CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3});
    CHECK(x.unsqueeze(1).shape() == Shape{2, 1, 3});
    CHECK(x.unsqueeze(2).shape() == Shape{2, 3, 1});
    CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 1});
    CHECK(x.unsqueeze(-3).shape() == Shape{1, 2, 3});
    CHECK(x.unsqueeze(1).is_contiguous());
    CHECK(full({}, 1.0f).unsqueeze(0).shape() == Shape{1});
    // The new dim may go at positions 0..rank, so the valid range is one wider than usual.
    CHECK_THROWS_WITH_AS(x.unsqueeze(3), doctest::Contains("unsqueeze: dim 3 is out of range"),
                         IndexError);
    CHECK_THROWS_WITH_AS(x.unsqueeze(3), doctest::Contains("[-3, 2]"), IndexError);
    CHECK_THROWS_AS(x.unsqueeze(-4), IndexError);
}

TEST_CASE("squeeze: drops size-1 dims; squeeze(dim) leaves other sizes alone") {
    const Tensor x = iota({1, 3, 1, 2});
    CHECK(x.squeeze().shape() == Shape{3, 2});
    CHECK(x.squeeze(0).shape() == Shape{3, 1, 2});
    CHECK(x.squeeze(-2).shape() == Shape{1, 3, 2});
    CHECK(x.squeeze(1).shape() == Shape{1, 3, 1, 2});  // size 3: unchanged, no error
    CHECK(iota({1, 1}).squeeze().dim() == 0);
    CHECK_THROWS_WITH_AS(x.squeeze(4),
                         doctest::Contains("squeeze: dim 4 is out of range for a tensor of rank 4"),
                         IndexError);
}

// ---- narrow, slice, select --------------------------------------------------------------------

TEST_CASE("narrow: a window of length elements from start") {
    const Tensor x = iota({3, 5});
    const Tensor n = x.narrow(1, 1, 3);
    CHECK(n.shape() == Shape{3, 3});
    CHECK(n.storage_offset() == 1);
    CHECK(n.to_vector() == std::vector<float>{1, 2, 3, 6, 7, 8, 11, 12, 13});
    CHECK(x.narrow(0, -1, 1).to_vector() == std::vector<float>{10, 11, 12, 13, 14});
    CHECK(x.narrow(1, 5, 0).shape() == Shape{3, 0});
    CHECK_THROWS_WITH_AS(x.narrow(1, 4, 3),
                         doctest::Contains("narrow: start 4 + length 3 exceeds dim 1 of size 5"),
                         IndexError);
    CHECK_THROWS_AS(x.narrow(1, 6, 0), IndexError);
    CHECK_THROWS_AS(x.narrow(1, 0, -1), IndexError);
}

TEST_CASE("slice: start:end:step like Python, with out-of-range ends clamped") {
    const Tensor x = arange(10);
    CHECK(x.slice(0, 2, 8, 3).to_vector() == std::vector<float>{2, 5});
    CHECK(x.slice(0, 2, 9, 3).to_vector() == std::vector<float>{2, 5, 8});
    CHECK(x.slice(0, 7, 100).to_vector() == std::vector<float>{7, 8, 9});
    CHECK(x.slice(0, -3, kEnd).to_vector() == std::vector<float>{7, 8, 9});
    CHECK(x.slice(0, -100, 2).to_vector() == std::vector<float>{0, 1});
    CHECK(x.slice(0, 0, -8).to_vector() == std::vector<float>{0, 1});
    CHECK(x.slice(0, 6, 3).shape() == Shape{0});  // end before start: empty, like x[6:3]
    CHECK(x.slice(0, 50, 60).shape() == Shape{0});
    const Tensor s = x.slice(0, 1, kEnd, 4);
    CHECK(s.strides() == Shape{4});
    CHECK(s.storage_offset() == 1);
    CHECK(s.to_vector() == std::vector<float>{1, 5, 9});
    CHECK_THROWS_AS(x.slice(0, 0, 5, 0), std::invalid_argument);
    CHECK_THROWS_WITH_AS(x.slice(1, 0, 5),
                         doctest::Contains("slice: dim 1 is out of range for a tensor of rank 1"),
                         IndexError);
}

TEST_CASE("select: picks one index and removes the dim, negative index included") {
    const Tensor x = iota({2, 3, 4});
    const Tensor s = x.select(1, 2);
    CHECK(s.shape() == Shape{2, 4});
    CHECK(s.strides() == Shape{12, 1});
    CHECK(s.to_vector() == std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23});
    CHECK(x.select(-1, -1).to_vector() == std::vector<float>{3, 7, 11, 15, 19, 23});
    CHECK(x.select(0, -2).storage_offset() == 0);
    CHECK(x.select(0, 0).select(0, 0).select(0, 3).item() == 3.0f);
    CHECK_THROWS_WITH_AS(x.select(1, 3),
                         doctest::Contains("select: index 3 is out of range for dim 1 of size 3"),
                         IndexError);
    CHECK_THROWS_AS(x.select(1, -4), IndexError);
    CHECK_THROWS_WITH_AS(x.select(3, 0),
                         doctest::Contains("select: dim 3 is out of range for a tensor of rank 3"),
                         IndexError);
}

// ---- expand -----------------------------------------------------------------------------------

TEST_CASE("expand: size-1 dims repeat with stride 0, -1 keeps a size, new dims go in front") {
    const Tensor col = from_vector({1, 2, 3}, {3, 1});
    const Tensor e = col.expand({2, -1, 4});
    CHECK(e.shape() == Shape{2, 3, 4});
    CHECK(e.strides() == Shape{0, 1, 0});
    CHECK(e.shares_storage_with(col));
    CHECK(e.select(0, 1).to_vector() == std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
    CHECK_FALSE(e.is_contiguous());
    // The ViT class token (1, 1, C) over a batch of B.
    const Tensor cls = zeros({1, 1, 768}).expand({8, 1, 768});
    CHECK(cls.strides() == Shape{0, 768, 1});
}

TEST_CASE("expand: a size that is not 1 cannot change; too few sizes is an error") {
    const Tensor x = zeros({4, 6});
    CHECK_THROWS_WITH_AS(x.expand({4, 7}),
                         doctest::Contains("expand: cannot expand (4, 6) to (4, 7)"), ShapeError);
    CHECK_THROWS_WITH_AS(zeros({4, 1}).expand({6}),
                         doctest::Contains("expand: cannot expand (4, 1) to fewer dims (6,)"),
                         ShapeError);
    CHECK_THROWS_AS(zeros({4, 1}).expand({-1, 2, 3}), ShapeError);
}

// ---- aliasing, copies, contiguity -------------------------------------------------------------

TEST_CASE("views alias their base: a write through any view is seen in the base") {
    Tensor x = zeros({2, 3, 4});
    x.transpose(0, 2).at({3, 1, 0}) = 1.0f;          // x[0, 1, 3]
    x.permute({1, 2, 0}).at({2, 0, 1}) = 2.0f;       // x[1, 2, 0]
    x.view({6, 4}).at({5, 1}) = 3.0f;                // x[1, 2, 1]
    x.reshape({24}).at({2}) = 4.0f;                  // x[0, 0, 2]
    x.flatten(1).at({0, 5}) = 5.0f;                  // x[0, 1, 1]
    x.narrow(2, 1, 2).at({1, 0, 1}) = 6.0f;          // x[1, 0, 2]
    x.slice(2, 0, kEnd, 3).at({0, 2, 1}) = 7.0f;     // x[0, 2, 3]
    x.select(1, 1).at({1, 3}) = 8.0f;                // x[1, 1, 3]
    x.unsqueeze(0).at({0, 1, 0, 0}) = 9.0f;          // x[1, 0, 0]
    x.unsqueeze(1).squeeze().at({0, 2, 0}) = 10.0f;  // x[0, 2, 0]
    CHECK(x.at({0, 1, 3}) == 1.0f);
    CHECK(x.at({1, 2, 0}) == 2.0f);
    CHECK(x.at({1, 2, 1}) == 3.0f);
    CHECK(x.at({0, 0, 2}) == 4.0f);
    CHECK(x.at({0, 1, 1}) == 5.0f);
    CHECK(x.at({1, 0, 2}) == 6.0f);
    CHECK(x.at({0, 2, 3}) == 7.0f);
    CHECK(x.at({1, 1, 3}) == 8.0f);
    CHECK(x.at({1, 0, 0}) == 9.0f);
    CHECK(x.at({0, 2, 0}) == 10.0f);
    float total = 0.0f;
    for (float v : x.to_vector()) total += v;
    CHECK(total == 55.0f);  // nothing else was written
}

TEST_CASE("views alias their base: fill_ on a strided view changes exactly those elements") {
    Tensor x = zeros({4, 5});
    x.slice(0, 1, kEnd, 2).slice(1, 0, kEnd, 2).fill_(1.0f);  // rows 1, 3; cols 0, 2, 4
    CHECK(x.to_vector() == std::vector<float>{0, 0, 0, 0, 0, 1, 0, 1, 0, 1,  //
                                              0, 0, 0, 0, 0, 1, 0, 1, 0, 1});
    // A write to the base shows through an existing view too.
    const Tensor col = x.select(1, 1);
    x.at({2, 1}) = 7.0f;
    CHECK(col.at({2}) == 7.0f);
}

TEST_CASE("clone always copies; contiguous copies only when needed") {
    Tensor x = iota({3, 4});
    Tensor c = x.clone();
    CHECK_FALSE(c.shares_storage_with(x));
    c.at({0, 0}) = 100.0f;
    CHECK(x.at({0, 0}) == 0.0f);
    CHECK(x.contiguous().shares_storage_with(x));

    const Tensor t = x.transpose(0, 1);
    const Tensor tc = t.contiguous();
    CHECK_FALSE(tc.shares_storage_with(x));
    CHECK(tc.is_contiguous());
    CHECK(tc.strides() == Shape{3, 1});
    CHECK(tc.to_vector() == t.to_vector());
    CHECK(tc.to_vector() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
    // clone of an expanded view materialises the repeats.
    const Tensor e = from_vector({1, 2}, {2, 1}).expand({2, 3}).clone();
    CHECK(e.strides() == Shape{3, 1});
    CHECK(e.to_vector() == std::vector<float>{1, 1, 1, 2, 2, 2});
}

TEST_CASE("is_contiguous: row-major strides, ignoring size-1 dims, as in torch") {
    const Tensor x = iota({2, 3, 4});
    CHECK(x.is_contiguous());
    CHECK_FALSE(x.transpose(0, 1).is_contiguous());
    CHECK(x.narrow(0, 1, 1).is_contiguous());        // a whole block
    CHECK_FALSE(x.narrow(2, 0, 2).is_contiguous());  // rows with gaps
    CHECK(x.select(0, 1).is_contiguous());
    CHECK_FALSE(x.slice(2, 0, kEnd, 2).is_contiguous());
    CHECK(x.unsqueeze(3).is_contiguous());
    CHECK(zeros({1, 5}).transpose(0, 1).is_contiguous());  // a (5, 1) column with strides (1, 5)
    CHECK(zeros({3, 0}).transpose(0, 1).is_contiguous());  // no elements
    CHECK(zeros({0, 6}).slice(1, 0, kEnd, 2).is_contiguous());  // no elements, strides (6, 2)
}

// ---- element access and dim errors ------------------------------------------------------------

TEST_CASE("at: reads and writes one element; negative indices count from the end") {
    Tensor x = iota({2, 3});
    CHECK(x.at({1, 2}) == 5.0f);
    CHECK(x.at({-1, -3}) == 3.0f);
    x.at({0, -1}) = -1.0f;
    CHECK(x.to_vector() == std::vector<float>{0, 1, -1, 3, 4, 5});
    CHECK(x.at(std::vector<int64_t>{1, 1}) == 4.0f);
    CHECK(full({}, 2.5f).at({}) == 2.5f);
}

TEST_CASE("at: an index out of range or the wrong number of indices is an IndexError") {
    const Tensor x = iota({2, 3});
    CHECK_THROWS_WITH_AS(x.at({0, 3}),
                         doctest::Contains("at: index 3 is out of range for dim 1 of size 3"),
                         IndexError);
    CHECK_THROWS_WITH_AS(x.at({-3, 0}),
                         doctest::Contains("at: index -3 is out of range for dim 0 of size 2"),
                         IndexError);
    CHECK_THROWS_WITH_AS(
        x.at({1}), doctest::Contains("at: got 1 indices for a tensor of rank 2 and shape (2, 3)"),
        IndexError);
    CHECK_THROWS_AS(x.at({0, 0, 0}), IndexError);
}

TEST_CASE("size and stride: negative dims count from the end; bad dims name the dim and rank") {
    const Tensor x = iota({2, 3, 4});
    CHECK(x.size(-1) == 4);
    CHECK(x.size(0) == 2);
    CHECK(x.stride(-3) == 12);
    CHECK_THROWS_WITH_AS(x.size(3),
                         doctest::Contains("size: dim 3 is out of range for a tensor of rank 3 "
                                           "(expected a dim in [-3, 2])"),
                         IndexError);
    CHECK_THROWS_WITH_AS(x.stride(-4), doctest::Contains("stride: dim -4 is out of range"),
                         IndexError);
}

// ---- against PyTorch --------------------------------------------------------------------------

TEST_CASE("views: shapes, strides, offsets and values equal PyTorch's for the same chains") {
    // The same chains as tools/fixtures/views.py, case by case.
    using Chain = std::function<Tensor(const Tensor&)>;
    const std::map<std::string, std::pair<Shape, Chain>> chains = {
        {"patch_tokens",
         {{2, 8, 4, 4}, [](const Tensor& x) { return x.flatten(2).transpose(1, 2); }}},
        {"qkv_k_t",
         {{2, 5, 24},
          [](const Tensor& x) {
              return x.reshape({2, 5, 3, 2, 4})
                  .permute({2, 0, 3, 1, 4})
                  .select(0, 1)
                  .transpose(-2, -1);
          }}},
        {"heads_merge",
         {{2, 2, 5, 4},
          [](const Tensor& x) {
              return x.transpose(1, 2).reshape({2, 5, 8});
          }}},
        {"slice_step",
         {{6, 7},
          [](const Tensor& x) {
              return x.slice(0, 1, kEnd, 2).slice(1, -5, kEnd).transpose(0, 1);
          }}},
        {"narrow_select",
         {{4, 6, 8}, [](const Tensor& x) { return x.narrow(2, 2, 4).select(0, -1).unsqueeze(1); }}},
        {"expand",
         {{3, 1},
          [](const Tensor& x) {
              return x.expand({2, -1, 4});
          }}},
        {"unsqueeze_t",
         {{2, 3}, [](const Tensor& x) { return x.transpose(0, 1).unsqueeze(2).unsqueeze(0); }}},
        {"unsqueeze_stepped",
         {{5}, [](const Tensor& x) { return x.slice(0, 0, kEnd, 2).unsqueeze(0).unsqueeze(-1); }}},
        {"squeeze", {{1, 2, 1, 3}, [](const Tensor& x) { return x.squeeze(2).transpose(0, 2); }}},
        {"squeeze_all", {{1, 3, 1, 2, 1}, [](const Tensor& x) { return x.squeeze(); }}},
        {"flatten_view",
         {{2, 3, 4, 5}, [](const Tensor& x) { return x.transpose(0, 1).flatten(2); }}},
        {"flatten_copy",
         {{2, 3, 4, 5}, [](const Tensor& x) { return x.transpose(0, 1).flatten(0, 1); }}},
        {"flatten_neg", {{2, 3, 4, 5}, [](const Tensor& x) { return x.flatten(-3, -2); }}},
        {"view_size1",
         {{3, 4},
          [](const Tensor& x) {
              return x.slice(1, 1, 3).view({3, 1, 2, 1});
          }}},
        {"view_split",
         {{2, 3, 4},
          [](const Tensor& x) {
              return x.transpose(1, 2).view({2, 2, 2, 3});
          }}},
        {"view_rows",
         {{4, 6},
          [](const Tensor& x) {
              return x.slice(1, 0, 4).view({4, 2, 2});
          }}},
        {"view_infer",
         {{4, 6},
          [](const Tensor& x) {
              return x.view({-1, 3, 2});
          }}},
        {"reshape_t", {{4, 6}, [](const Tensor& x) { return x.transpose(0, 1).reshape({-1}); }}},
        {"permute",
         {{2, 3, 4},
          [](const Tensor& x) {
              return x.permute({2, 0, 1}).narrow(0, 1, 2);
          }}},
        {"empty_slice", {{6, 3}, [](const Tensor& x) { return x.slice(0, 4, 2); }}},
    };
    const auto f = fixture("views");
    // Every case of the fixture has a chain here, and every chain a case.
    size_t cases_in_fixture = 0;
    for (const auto& entry : f.all())
        if (entry.first.size() > 7 && entry.first.substr(entry.first.size() - 7) == ".values")
            ++cases_in_fixture;
    CHECK(cases_in_fixture == chains.size());

    auto as_shape = [](const Tensor& t) {
        Shape s;
        for (float v : t.to_vector()) s.push_back(static_cast<int64_t>(v));
        return s;
    };
    for (const auto& entry : chains) {
        const std::string& name = entry.first;
        CAPTURE(name);
        const Tensor x = iota(entry.second.first);
        const Tensor v = entry.second.second(x);
        CHECK(v.shape() == as_shape(f[name + ".shape"]));
        CHECK(to_string(v.strides()) == to_string(as_shape(f[name + ".strides"])));
        CHECK(v.storage_offset() == static_cast<int64_t>(f[name + ".offset"].item()));
        CHECK(v.shares_storage_with(x) == (f[name + ".aliases"].item() == 1.0f));
        check_close(v, f[name + ".values"], 0.0f, 0.0f);
    }
}

TEST_CASE("views: a 0-d tensor has no size(0) and an expanded view refuses writes") {
    const Tensor s = full(Shape{}, 2.0f);
    CHECK_THROWS_WITH_AS(s.size(0), doctest::Contains("0-d tensor"), IndexError);
    CHECK_THROWS_AS(s.stride(-1), IndexError);
    Tensor e = ones({1, 3}).expand({4, 3});
    CHECK_THROWS_WITH_AS(e.fill_(1.0f), doctest::Contains("expanded view"), std::invalid_argument);
    CHECK_THROWS_AS(e += ones({3}), std::invalid_argument);
    CHECK_THROWS_AS(e.copy_(zeros({4, 3})), std::invalid_argument);
    CHECK_THROWS_WITH_AS(zeros({2, 3}).unsqueeze(3),
                         doctest::Contains("dim 3 is out of range for a tensor of rank 2"),
                         IndexError);
    CHECK(zeros({2, 3}).unsqueeze(-1).shape() == Shape{2, 3, 1});
}
