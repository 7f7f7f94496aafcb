// 10_backward.cpp: backward through attention (反向传播): one head by hand, then a whole block.
//
// EN: Tutorials 01-09 ran the model forward. To train it, every weight needs its gradient
//     (梯度): how much the loss (损失) changes when that weight moves. The chain rule gives it,
//     one operation at a time, from the loss back to the inputs. For one attention head
//     (注意力), with an upstream gradient dO = dloss/dO:
//       forward                                 backward (derived below, step by step)
//       S = q k^T * scale      (N, N)           dQ = dS k * scale        dK = dS^T q * scale
//       P = softmax(S, -1)     (N, N)           dS = P * (dP - rowsum(dP * P))
//       O = P v                (N, d)           dP = dO v^T              dV = P^T dO
//     Part 1 computes these by hand and prints them beside what loss.backward() gives.
//     Part 2 lets autograd do a whole encoder block (nn::Block) and shows the price: every
//     tensor the forward keeps for the backward, in MB.
// 中文：前九个教程只做前向计算。要训练模型，每个权重都需要梯度：权重变化时损失变化多少。
//     链式法则从损失出发，一步一步往回算（反向传播）。第一部分手工推导一个注意力头的反向传播，
//     并与 loss.backward() 的结果逐项比较；第二部分用自动求导（autograd）算整个编码器层的
//     反向传播，并打印前向为反向保存了多少内存（MB）。
// Shapes in PyTorch's order; the batch dim (1) is kept, as in the model.
// Run: make run T=10.  The exercises 07 (softmax backward) and 08 (layer norm backward) ask you
// to write two of these gradients yourself.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"

using namespace vitlab;

namespace {

// The largest |element|: the scale a difference is judged against.
float max_abs(const Tensor& x) {
    float m = 0.0f;
    for (float v : x.to_vector()) m = std::max(m, std::abs(v));
    return m;
}

// loss = sum(out * G): a scalar whose gradient with respect to out is exactly G. It stands in
// for whatever would follow (the rest of the model and the cross-entropy).
Tensor weighted_sum(const Tensor& out, const Tensor& G) {
    return sum((out * G).reshape({-1}), 0);
}

// Prints a gradient by hand beside autograd's, and checks they agree to float rounding:
// max |hand - autograd| <= 1e-4 * max |autograd|.
void compare(const std::string& name, const Tensor& by_hand, const Tensor& by_autograd) {
    const float diff = max_abs_diff(by_hand, by_autograd);
    const float scale = max_abs(by_autograd);
    tutorial::step(fmt::format("{} by hand vs {}.grad()", name, name),
                   fmt::format("{}  max |diff| {:.2e} (max |grad| {:.3f})",
                               to_string(by_hand.shape()), diff, scale));
    tutorial::check(by_hand.shape() == by_autograd.shape() && diff <= 1e-4f * scale + 1e-7f,
                    fmt::format("{}: the derivation agrees with loss.backward()", name));
}

double megabytes(int64_t floats) {
    return floats * 4.0 / (1024.0 * 1024.0);
}

// Part 1: one head, by hand, beside loss.backward().
void one_head(Generator& gen) {
    using tutorial::heading;
    using tutorial::step;
    // 65 tokens (a 128 px image in 16 px patches, 8 x 8 = 64, plus the class token) and one
    // head of d = 64, as in ViT-Base: small enough to read, the same formulas as at 577.
    const int64_t N = 65, d = 64;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    heading("Step 1", "注意力的前向", "Attention forward, recorded",
            "q、k、v 需要梯度：每个运算都被记录下来", "q, k, v require grad: every op is recorded");
    Tensor q = randn({1, N, d}, gen).requires_grad_();
    Tensor k = randn({1, N, d}, gen).requires_grad_();
    Tensor v = randn({1, N, d}, gen).requires_grad_();
    const Tensor G = randn({1, N, d}, gen);  // the upstream gradient dO
    const Tensor S = matmul(q, k.transpose(-2, -1)) * scale;
    const Tensor P = softmax(S, -1);
    const Tensor O = matmul(P, v);
    const Tensor loss = weighted_sum(O, G);
    step("q, k, v = randn(...).requires_grad_()", q.shape());
    step("S = q @ k.transpose(-2, -1) * scale", S.shape());
    step("P = softmax(S, -1)", P.shape());
    step("O = P @ v", O.shape());
    step("loss = sum(O * G)", fmt::format("{}  = {:.4f}", to_string(loss.shape()), loss.item()));
    fmt::print("  loss was made by {}; O by {}; P by {}\n", loss.grad_fn_name(), O.grad_fn_name(),
               P.grad_fn_name());

    heading("Step 2", "损失的反向传播", "loss.backward()",
            "自动求导从损失往回走，填好每个叶子张量的梯度",
            "autograd walks back from the loss and fills every leaf's grad()");
    loss.backward();
    step("q.grad()", q.grad().shape());
    step("k.grad()", k.grad().shape());
    step("v.grad()", v.grad().shape());

    // The same gradients by hand, from the saved values (detached: plain numbers, no recording).
    autograd::NoGrad no_grad;
    const Tensor qd = q.detach(), kd = k.detach(), vd = v.detach(), Pd = P.detach();
    heading("Step 3", "输出的梯度", "The gradient of O", "loss = sum(O * G)，所以 dO = G",
            "loss = sum(O * G), so dO = G");
    const Tensor dO = G;
    step("dO = G", dO.shape());
    fmt::print("  Every element of O enters the loss once, multiplied by G: dloss/dO = G.\n");

    heading("Step 4", "加权求和的反向传播", "Backward of the weighted sum O = P v",
            "矩阵乘法的梯度：两个矩阵乘法", "a matmul's gradient is two matmuls");
    // O_ij = sum_t P_it v_tj.  dloss/dv_tj = sum_i P_it dO_ij  -> dV = P^T dO
    //                          dloss/dP_it = sum_j dO_ij v_tj  -> dP = dO v^T
    const Tensor dV = matmul(Pd.transpose(-2, -1), dO);
    const Tensor dP = matmul(dO, vd.transpose(-2, -1));
    step("dV = P^T @ dO      (N, N) @ (N, d)", dV.shape());
    step("dP = dO @ v^T      (N, d) @ (d, N)", dP.shape());
    compare("v", dV, v.grad());

    heading("Step 5", "softmax 的反向传播", "Backward of the softmax P = softmax(S)",
            "每一行：dS = P * (dP - sum(dP * P))", "row by row: dS = P * (dP - sum(dP * P))");
    // One row: P_j = exp(S_j) / sum_t exp(S_t), so dP_j/dS_i = P_j (delta_ij - P_i), and
    //   dS_i = sum_j dP_j P_j (delta_ij - P_i) = P_i (dP_i - sum_j dP_j P_j).
    // The sum is there because S_i moves every P_j of its row (they must still sum to 1).
    const Tensor row_dot = sum(dP * Pd, -1, /*keepdim=*/true);  // (1, N, 1)
    const Tensor dS = Pd * (dP - row_dot);
    step("rowsum(dP * P)     sum(dP * P, -1, keepdim)", row_dot.shape());
    step("dS = P * (dP - rowsum(dP * P))", dS.shape());
    const float lib_diff = max_abs_diff(dS, softmax_backward(dP, Pd, -1));
    step("vs softmax_backward(dP, P, -1)", fmt::format("max |diff| {:.2e}", lib_diff));
    tutorial::check(lib_diff <= 1e-4f * max_abs(dS) + 1e-7f,
                    "dS by hand equals the library's softmax_backward");
    // Each row of dS sums to 0: adding a constant to a row of scores changes no probability.
    tutorial::check(max_abs(sum(dS, -1)) <= 1e-5f * max_abs(dS) * N,
                    "every row of dS sums to 0 (softmax ignores a shift of its row)");

    heading("Step 6", "分数的反向传播", "Backward of the scores S = q k^T * scale",
            "又是两个矩阵乘法，别忘了缩放因子", "two more matmuls; keep the scale");
    // S_it = scale * sum_j q_ij k_tj.  dQ = dS k * scale,  dK = dS^T q * scale
    const Tensor dQ = matmul(dS, kd) * scale;
    const Tensor dK = matmul(dS.transpose(-2, -1), qd) * scale;
    step("dQ = dS @ k * scale     (N, N) @ (N, d)", dQ.shape());
    step("dK = dS^T @ q * scale   (N, N) @ (N, d)", dK.shape());
    compare("q", dQ, q.grad());
    compare("k", dK, k.grad());

    heading("Step 7", "常见错误", "The classic mistake", "忘掉 sum(dP * P) 这一项会怎样",
            "what forgetting the sum(dP * P) term does");
    const Tensor dQ_wrong = matmul(Pd * dP, kd) * scale;
    const float wrong = max_abs_diff(dQ_wrong, q.grad());
    fmt::print("  With dS = P * dP (no row sum), dQ is off by up to {:.3f} (max |dQ| {:.3f}).\n",
               wrong, max_abs(q.grad()));
    tutorial::check(wrong > 1e-2f * max_abs(q.grad()),
                    "without the row sum the gradient is visibly wrong (exercise 07 checks it)");
    fmt::print(
        "  v's gradient does not go through the softmax, so it would still look right:\n"
        "  compare every input's gradient, not just one.\n");
}

// Part 2: a whole encoder block by autograd, and what its forward kept for the backward.
void whole_block(Generator& gen) {
    using tutorial::heading;
    using tutorial::step;
    // ViT-Base's block at 224 px: 197 tokens of 768, 12 heads, MLP 3072.
    const int64_t T = 197, C = 768;
    heading("Step 8", "编码器层的反向传播", "A whole encoder block's backward",
            "block.requires_grad_()：各层自己记录，不用改写",
            "block.requires_grad_(): the layers record by themselves, unchanged");
    nn::Block block(C, 12, 4 * C);
    block.requires_grad_();
    Tensor x = randn({1, T, C}, gen).requires_grad_();
    const Tensor G = randn({1, T, C}, gen);
    tutorial::Timer timer;
    const Tensor out = block(x);
    const Tensor loss = weighted_sum(out, G);
    const double forward_ms = timer.ms();
    step("x = randn(1, 197, 768).requires_grad_()", x.shape());
    step("out = block(x)", out.shape());
    step("loss = sum(out * G)", fmt::format("{:.4f}", loss.item()));

    heading("Step 9", "为反向传播保存的内存", "Memory kept for backward",
            "前向为反向保存了哪些张量", "the tensors the forward saved for the backward");
    // autograd::saved_tensors(out) lists every save of every node behind the block's output
    // (the loss's own MulBackward is left out). A tensor saved by two ops (the attention's
    // output is also proj's input) is memory once: count each piece of storage once, by
    // (storage, offset, size): q, k and v are three views into one qkv storage. The parameters
    // are in the list too (linear saves its weight), but they exist anyway: count them apart.
    std::set<const void*> params;
    for (const Tensor& p : block.parameters()) params.insert(p.storage_id());
    std::map<std::string, std::pair<int, int64_t>> by_op;  // op -> (saves, new floats)
    std::set<std::tuple<const void*, int64_t, int64_t>> counted;
    int64_t activation_floats = 0, param_floats = 0;
    bool kept_n_by_n = false;
    const std::vector<autograd::SavedEntry> saved = autograd::saved_tensors(out);
    for (const autograd::SavedEntry& e : saved) {
        auto& row = by_op[e.op];
        row.first += 1;
        const Tensor& t = e.tensor;
        if (t.dim() >= 2 && t.size(-1) == T && t.size(-2) == T) kept_n_by_n = true;
        if (!counted.insert({t.storage_id(), t.storage_offset(), t.numel()}).second) continue;
        if (params.count(t.storage_id())) {
            param_floats += t.numel();
        } else {
            activation_floats += t.numel();
            row.second += t.numel();
        }
    }
    fmt::print("  {:<28}{:>7}{:>16}\n", "op (grad_fn)", "saves", "activations MB");
    for (const auto& [op, row] : by_op)
        fmt::print("  {:<28}{:>7}{:>16.2f}\n", op, row.first, megabytes(row.second));
    const double input_mb = megabytes(T * C);
    fmt::print("  activations kept: {:.2f} MB, {:.1f} times the block's input x ({:.2f} MB)\n",
               megabytes(activation_floats), megabytes(activation_floats) / input_mb, input_mb);
    fmt::print("  parameters saved by reference (no copy): {:.2f} MB\n", megabytes(param_floats));
    fmt::print(
        "  MultiHeadAttentionBackward keeps qkv (q, k, v side by side) and the output, not the\n"
        "  probabilities P (1, 12, 197, 197), {:.2f} MB more: its backward recomputes P from q\n"
        "  and k, head by head, so the memory kept grows as N, not N^2. Twelve blocks keep twelve\n"
        "  times this.\n",
        megabytes(12 * T * T));
    tutorial::check(activation_floats >= 2 * T * C,
                    "the forward kept activations (at least the LayerNorm and MLP inputs)");
    tutorial::check(!kept_n_by_n, "no (N, N) attention matrix was kept for the backward");

    heading("Step 10", "自动求导的反向传播", "backward() through the block",
            "每个参数都得到形状相同的梯度", "every parameter gets a gradient of its own shape");
    timer.reset();
    loss.backward();
    const double backward_ms = timer.ms();
    fmt::print(
        "  forward {:.0f} ms, backward {:.0f} ms (a backward does about twice the forward's "
        "arithmetic)\n",
        forward_ms, backward_ms);
    bool all = true;
    for (const auto& [name, p] : block.named_parameters()) {
        const bool ok = p.grad().shape() == p.shape() && max_abs(p.grad()) > 0.0f;
        all = all && ok;
        if (name.find("weight") != std::string::npos)
            step(fmt::format("{}.grad()", name), p.grad().shape());
    }
    tutorial::check(all, fmt::format("all {} parameters have a non-zero gradient of their shape",
                                     block.parameters().size()));
    tutorial::check(autograd::saved_tensors(loss).empty(),
                    "backward() freed the saved tensors (the graph is gone)");

    // A check that needs no derivation: move x a little along a random direction u; the loss
    // changes by about <x.grad(), u> per unit step (a central difference).
    autograd::NoGrad no_grad;
    const Tensor u = randn({1, T, C}, gen);
    const float h = 1e-2f;
    const Tensor xd = x.detach();
    const float up = weighted_sum(block(xd + u * h), G).item();
    const float down = weighted_sum(block(xd - u * h), G).item();
    const float numeric = (up - down) / (2 * h);
    const float analytic = sum((x.grad() * u).reshape({-1}), 0).item();
    step("(loss(x + h u) - loss(x - h u)) / 2h", fmt::format("{:.3f}", numeric));
    step("sum(x.grad() * u)", fmt::format("{:.3f}", analytic));
    tutorial::check(std::abs(numeric - analytic) <= 1e-2f * std::abs(analytic),
                    "x.grad() predicts the loss's change (within 1%)");
    const Tensor plain = block(xd);
    tutorial::check(!plain.requires_grad() && autograd::saved_tensors(plain).empty(),
                    "under NoGrad (and with nothing requiring grad) nothing is recorded or kept");
}

}  // namespace

int main() {
    nn::manual_seed(0);
    Generator gen(1);
    one_head(gen);
    whole_block(gen);
    return tutorial::exit_code();
}
