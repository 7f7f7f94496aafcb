// 03_self_attention.cpp: self-attention with one head (自注意力, 单头).
//
// EN: Every token asks a question (query), offers a key, and carries a value. Token i's new
//     vector is an average of all values, weighted by how well its query matches each key:
//       q = x W_q^T, k = x W_k^T, v = x W_v^T                   each (1, 577, 768)
//       scores = q @ k^T / sqrt(d)                               (1, 577, 577)
//       attn = softmax(scores, dim = -1)                         each row sums to 1
//       out = attn @ v                                           (1, 577, 768)
//     Dividing by sqrt(d) keeps the scores near unit size, so the softmax does not saturate.
// 中文：自注意力：每个标记（包括分类标记）都与所有标记比较（query 与 key 的点积），
//     用 softmax 得到权重（每行之和为 1），再对 value 加权平均。这是 Transformer 编码器中
//     多头注意力机制（Multi-Head Attention）的一个头。
// Run: make run T=03.  Next: 04_multi_head_attention.cpp (12 heads of 64 instead of one of 768).
#include <cmath>

#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    using tutorial::step;
    nn::manual_seed(0);
    Generator gen(1);  // the inputs: another seed than the weights' (see 07)

    // The 577 tokens of tutorial 02 (random stand-ins): class token + 576 patches, 768 each.
    const int64_t C = 768;
    const Tensor x = randn({1, 577, C}, gen);
    heading("Step 1", "多头注意力（单头）", "Multi-Head Attention, one head",
            "自注意力：每个标记都看所有标记", "self-attention: every token looks at every token");
    fmt::print("One head of d = {} (tutorial 04 splits it into 12 heads of 64):\n", C);
    step("x (tokens)", x.shape());

    // Three learned projections, nn.Linear(768, 768) each.
    heading("Step 2", "查询、键、值", "Query, key, value", "三个线性层：查询 q、键 k、值 v",
            "three Linear layers: query q, key k, value v");
    nn::Linear W_q(C, C), W_k(C, C), W_v(C, C);
    const Tensor q = W_q(x);
    const Tensor k = W_k(x);
    const Tensor v = W_v(x);
    step("q = W_q(x)", q.shape());
    step("k = W_k(x)", k.shape());
    step("v = W_v(x)", v.shape());

    // Every query against every key: a 577 x 577 table of dot products.
    heading("Step 3", "注意力权重", "Attention weights", "q 与 k 的点积，缩放后做 softmax",
            "dot products of q and k, scaled, then softmax");
    const float scale = 1.0f / std::sqrt(float(C));
    const Tensor scores = matmul(q, k.transpose(-2, -1)) * scale;
    step("k.transpose(-2, -1)", k.transpose(-2, -1).shape());
    step("scores = q @ k^T / sqrt(768)", scores.shape());

    const Tensor attn = softmax(scores, -1);
    step("attn = softmax(scores, -1)", attn.shape());
    const Tensor row_sums = attn.sum(-1);  // (1, 577)
    step("attn.sum(-1)", row_sums.shape());
    const float sum_error = max_abs_diff(row_sums, ones(row_sums.shape()));
    tutorial::check(sum_error < 1e-5f,
                    fmt::format("each of the {} rows of attn sums to 1 (max |sum - 1| = {:.1e})",
                                row_sums.size(-1), sum_error));

    heading("Step 4", "加权平均", "Weighted average", "用注意力权重对值 v 加权平均",
            "the values v averaged with the attention weights");
    const Tensor out = matmul(attn, v);
    step("out = attn @ v", out.shape());
    tutorial::check(out.shape() == x.shape(), "self-attention keeps the shape (1, 577, 768)");

    // Row 0 is what the class token gathers from the image (random weights: no meaning yet).
    const TopK top = topk(attn.select(1, 0).select(0, 0), 3);  // attn[0, 0]: (577)
    fmt::print("The 分类标记 class token (row 0 of attn) attends most to tokens");
    for (int64_t i = 0; i < 3; ++i)
        fmt::print(" {} ({:.4f})", top.indices.at({i}), top.values.at({i}));
    fmt::print(",\nwhere a uniform average would give each {:.4f}.\n", 1.0f / 577.0f);

    // Why sqrt(d): the scores grow like sqrt(d), and big scores make the softmax nearly one-hot.
    const Tensor unscaled = softmax(matmul(q, k.transpose(-2, -1)), -1);
    heading("Step 5", "为什么除以 sqrt(d)", "Why divide by sqrt(d)",
            "不缩放时分数太大，softmax 几乎变成 one-hot",
            "unscaled scores are large and the softmax turns nearly one-hot");
    fmt::print("sqrt(768) = {:.1f}:\n", 1.0f / scale);
    step("typical score (root mean square)",
         fmt::format("{:.2f} scaled, {:.2f} unscaled", tutorial::rms(scores),
                     tutorial::rms(scores) / scale));
    step("mean of each row's largest weight",
         fmt::format("{:.4f} scaled, {:.4f} unscaled", mean(attn.max(-1), -1).item(),
                     mean(unscaled.max(-1), -1).item()));
    return tutorial::exit_code();
}
