// 04_multi_head_attention.cpp: multi-head attention (多头注意力机制, Multi-Head Attention).
//
// EN: Instead of one attention over 768 numbers (tutorial 03), ViT-B runs 12 attentions side by
//     side, each over its own 64 of the 768 numbers, so each head can look for something else.
//     One fused Linear(768, 2304) makes q, k and v at once; reshape and permute split them into
//     heads (views: nothing is copied); after attention the heads are merged back and mixed by
//     one more Linear(768, 768), the output projection:
//       qkv (1, 577, 2304) -> (1, 577, 3, 12, 64) -> (3, 1, 12, 577, 64) -> q, k, v (1, 12, 577,
//       64) attn (1, 12, 577, 577), out (1, 12, 577, 64) -> (1, 577, 12, 64) -> (1, 577, 768)
// 中文：Transformer 编码器的每一层包含多头注意力机制（Multi-Head Attention）。把 768 维分成
//     12 个头，每个头 64 维，各自做自注意力，再把 12 个头的结果拼接回 768 维。
// This is exactly what nn::Attention (nn/attention.h) does; the last check compares with it.
// Run: make run T=04.  Next: 05_mlp_and_encoder_block.cpp.
#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    using tutorial::step;
    nn::manual_seed(0);
    Generator gen(1);  // the inputs: another seed than the weights' (see 07)

    const int64_t B = 1, N = 577, C = 768, H = 12, D = C / H;  // D = 64, the head dim
    const Tensor x = randn({B, N, C}, gen);                    // tokens, as after tutorial 02
    nn::Attention attention(C, H);  // owns qkv = Linear(768, 2304) and proj = Linear(768, 768)

    heading("Step 1", "多头注意力：分头", "Multi-Head Attention: split into heads",
            fmt::format("一个线性层算出 q、k、v，再分成 {} 个 {} 维的头", H, D),
            fmt::format("one Linear makes q, k, v; views split them into {} heads of {}", H, D));
    step("x", x.shape());
    const Tensor fused = attention.qkv(x);  // one matmul for q, k and v of all heads
    Tensor qkv = fused;
    step("qkv = attention.qkv(x)", qkv.shape());
    qkv = qkv.reshape({B, N, 3, H, D});
    step("qkv = qkv.reshape(B, N, 3, H, D)", qkv.shape());
    qkv = qkv.permute({2, 0, 3, 1, 4});
    step("qkv = qkv.permute(2, 0, 3, 1, 4)", qkv.shape());
    const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
    step("q, k, v = qkv[0], qkv[1], qkv[2]", q.shape());
    tutorial::check(
        q.shares_storage_with(fused) && v.shares_storage_with(fused),
        "splitting into heads copied nothing: q, k, v are views of the Linear's output");

    heading("Step 2", "每个头的注意力", "Attention in every head",
            "12 个头同时计算（matmul 对 (1, 12) 广播）",
            "all 12 heads at once (matmul broadcasts over (1, 12))");
    const Tensor attn = softmax(matmul(q, k.transpose(-2, -1)) * attention.scale, -1);
    step("attn = softmax(q @ k^T / sqrt(64), -1)", attn.shape());
    const float sum_error = max_abs_diff(attn.sum(-1), ones({B, H, N}));
    tutorial::check(
        sum_error < 1e-5f,
        fmt::format("in every head each row sums to 1 (max |sum - 1| = {:.1e})", sum_error));
    Tensor out = matmul(attn, v);
    step("out = attn @ v", out.shape());

    heading("Step 3", "合并各头", "Merge the heads", "拼接回 768 维，再经过输出投影",
            "concatenate back to 768, then the output projection");
    out = out.transpose(1, 2);
    step("out = out.transpose(1, 2)", out.shape());
    out = out.reshape({B, N, C});  // a copy: after the transpose the heads are not contiguous
    step("out = out.reshape(B, N, C)", out.shape());
    out = attention.proj(out);
    step("out = attention.proj(out)", out.shape());

    // Same weights, same numbers as the layer the model uses.
    const float diff = max_abs_diff(out, attention(x));
    tutorial::check(diff < 1e-4f,
                    fmt::format("equals nn::Attention(768, 12) (max difference {:.1e})", diff));

    // 12 heads of 64 cost what one head of 768 costs: 12 * 577*577*64 = 577*577*768.
    heading("Step 4", "计算量", "Cost", "12 个 64 维的头与一个 768 维的头计算量相同",
            "12 heads of 64 cost what one head of 768 costs");
    fmt::print("Multiply-adds in q @ k^T:\n");
    step("12 heads x 577 x 577 x 64", tutorial::thousands(H * N * N * D));
    step("one head x 577 x 577 x 768", tutorial::thousands(N * N * C));
    return tutorial::exit_code();
}
