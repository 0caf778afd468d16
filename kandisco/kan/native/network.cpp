// A whole KAN in one call: every layer's bases (basis_forward, in bspline.cpp), its matmul, the
// multiplication nodes and the node affine, then the hand-written backward through all of them.
//
// Per layer the Python path pays a Function node, ~15 small tensor operations and their autograd
// nodes; on a small network that overhead, not arithmetic, is most of a training step. Values are
// kept feature-major, (rows, batch), from the first layer's bases to the output, so every matmul
// meets its operands without copies. Python (kandisco/kan/fused_network.py) wraps these two
// functions in one autograd Function and checks them against the per-layer torch path.
//
// Per layer, params holds [coef (out, in, n_basis), w_sp (out, in), w_base (out, in), node_scale
// (nodes,), node_bias (nodes,)]; a layer's outputs are subnodes: n_sum of them are nodes, then
// each multiplication node multiplies its `arity` consecutive subnodes.

namespace {

constexpr int64_t kPerLayer = 5;  // tensors per layer in params
constexpr int64_t kSaved = 6;     // tensors per layer in the saved list

// (out, in, n_basis) coefficients times w_sp, knot-major, then the base weights: the
// (out, (n_basis + has_base) * in) matrix the kernel's bases meet
torch::Tensor layer_weight(const torch::Tensor& coef, const torch::Tensor& w_sp, const torch::Tensor& w_base,
                           bool has_base) {
  const int64_t n_out = coef.size(0), n_in = coef.size(1), n_basis = coef.size(2);
  auto weight = torch::empty({n_out, (n_basis + (has_base ? 1 : 0)) * n_in}, coef.options());
  auto spline_part = weight.narrow(1, 0, n_basis * n_in).view({n_out, n_basis, n_in});
  at::mul_out(spline_part, coef.transpose(1, 2), w_sp.unsqueeze(1));
  if (has_base) weight.narrow(1, n_basis * n_in, n_in).copy_(w_base);
  return weight;
}

bool uniform_arity(const std::vector<int64_t>& arity) {
  return std::all_of(arity.begin(), arity.end(), [&](int64_t a) { return a == arity.front(); });
}

// calls visit(first subnode row, first node row, number of nodes, arity) for runs of equal arity
template <typename Visit>
void for_each_mult_group(int64_t n_sum, const std::vector<int64_t>& arity, Visit visit) {
  if (arity.empty()) return;
  if (uniform_arity(arity)) {
    visit(n_sum, n_sum, static_cast<int64_t>(arity.size()), arity.front());
    return;
  }
  int64_t sub_row = n_sum;
  for (size_t j = 0; j < arity.size(); ++j) {
    visit(sub_row, n_sum + static_cast<int64_t>(j), 1, arity[j]);
    sub_row += arity[j];
  }
}

// subnodes (n_sub, batch) -> nodes (n_nodes, batch): sums pass through, products as a chain of
// multiplications in subnode order (the order the torch path uses)
torch::Tensor combine(const torch::Tensor& sub, int64_t n_sum, const std::vector<int64_t>& arity) {
  if (arity.empty()) return sub;
  const int64_t batch = sub.size(1);
  auto node = torch::empty({n_sum + static_cast<int64_t>(arity.size()), batch}, sub.options());
  node.narrow(0, 0, n_sum).copy_(sub.narrow(0, 0, n_sum));
  for_each_mult_group(n_sum, arity, [&](int64_t sub_row, int64_t node_row, int64_t m, int64_t a) {
    auto factors = sub.narrow(0, sub_row, m * a).view({m, a, batch});
    auto product = node.narrow(0, node_row, m);
    at::mul_out(product, factors.select(1, 0), factors.select(1, 1));
    for (int64_t r = 2; r < a; ++r) product.mul_(factors.select(1, r));
  });
  return node;
}

// gradient of the nodes (n_nodes, batch) -> gradient of the subnodes (n_sub, batch)
torch::Tensor uncombine(const torch::Tensor& g_node, const torch::Tensor& sub, int64_t n_sum,
                        const std::vector<int64_t>& arity) {
  if (arity.empty()) return g_node;
  const int64_t batch = sub.size(1);
  auto g_sub = torch::empty_like(sub);
  g_sub.narrow(0, 0, n_sum).copy_(g_node.narrow(0, 0, n_sum));
  for_each_mult_group(n_sum, arity, [&](int64_t sub_row, int64_t node_row, int64_t m, int64_t a) {
    auto factors = sub.narrow(0, sub_row, m * a).view({m, a, batch});
    auto g_factors = g_sub.narrow(0, sub_row, m * a).view({m, a, batch});
    auto g_product = g_node.narrow(0, node_row, m);
    for (int64_t r = 0; r < a; ++r) {  // d(f_0 ... f_{a-1}) / d f_r = product of the other factors
      auto g_r = g_factors.select(1, r);
      bool started = false;
      for (int64_t q = 0; q < a; ++q) {
        if (q == r) continue;
        if (!started) at::mul_out(g_r, g_product, factors.select(1, q));
        else g_r.mul_(factors.select(1, q));
        started = true;
      }
    }
  });
  return g_sub;
}

// d out / d x of one layer from the gradient of its subnodes g_sub (n_out, batch): (n_in, batch)
torch::Tensor layer_input_grad(const torch::Tensor& g_sub, const torch::Tensor& weight, const torch::Tensor& slope,
                               const torch::Tensor& first, int64_t k, int64_t n_basis, bool has_base) {
  const int64_t n_in = first.size(0), batch = first.size(1);
  const auto gw = torch::mm(g_sub.t(), weight);  // (batch, row), contiguous
  auto out = torch::empty({n_in, batch}, g_sub.options());
  AT_DISPATCH_FLOATING_TYPES(g_sub.scalar_type(), "kandisco_network_input_grad", [&] {
    input_grad_kernel<scalar_t>(gw.data_ptr<scalar_t>(), slope.data_ptr<scalar_t>(), first.data_ptr<int64_t>(), n_in,
                                batch, k, n_basis, has_base, out.data_ptr<scalar_t>());
  });
  return out;
}

void check_plan(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& knots,
                const std::vector<torch::Tensor>& closing, const std::vector<int64_t>& n_sum,
                const std::vector<std::vector<int64_t>>& arity) {
  const size_t depth = knots.size();
  TORCH_CHECK(depth >= 1 && params.size() == depth * kPerLayer && closing.size() == depth &&
                  n_sum.size() == depth && arity.size() == depth,
              "network plan: one entry per layer in every list (", kPerLayer, " parameters each)");
  for (size_t l = 0; l < depth; ++l) {
    int64_t n_sub = n_sum[l];
    for (int64_t a : arity[l]) {
      TORCH_CHECK(a >= 2, "multiplication nodes need arity >= 2");
      n_sub += a;
    }
    const auto& coef = params[l * kPerLayer];
    TORCH_CHECK(coef.dim() == 3 && coef.size(0) == n_sub, "layer ", l, ": coef rows must equal its subnodes");
    TORCH_CHECK(params[l * kPerLayer + 3].numel() == n_sum[l] + static_cast<int64_t>(arity[l].size()),
                "layer ", l, ": one node scale per node");
    if (l + 1 < depth)
      TORCH_CHECK(params[(l + 1) * kPerLayer].size(1) == n_sum[l] + static_cast<int64_t>(arity[l].size()),
                  "layer ", l + 1, ": inputs must equal the nodes of the level before");
  }
}

}  // namespace

// x (batch, n_in) -> [output (batch, n_out), then per layer the saved tensors
// basis, weight, slope, first, subnodes, nodes]; slope/first are only computed where the backward
// needs them (every layer after the first, and the first when need_x_grad), else empty.
std::vector<torch::Tensor> network_forward(torch::Tensor x, std::vector<torch::Tensor> params,
                                           std::vector<torch::Tensor> knots, std::vector<torch::Tensor> closing,
                                           int64_t k, int64_t base_kind, std::vector<int64_t> n_sum,
                                           std::vector<std::vector<int64_t>> arity, bool need_x_grad) {
  check_plan(params, knots, closing, n_sum, arity);
  TORCH_CHECK(x.dim() == 2 && x.size(1) == params[0].size(1), "x must be (batch, n_in of the first layer)");
  const int64_t depth = static_cast<int64_t>(knots.size()), batch = x.size(0);
  const bool has_base = base_kind != kNoBase;
  std::vector<torch::Tensor> result(1 + depth * kSaved);
  torch::Tensor h = x.t();  // (n_in, batch), read through its strides
  for (int64_t l = 0; l < depth; ++l) {
    const auto* p = &params[l * kPerLayer];
    const bool with_slope = l > 0 || need_x_grad;
    auto outs = basis_forward(h, knots[l], closing[l], k, with_slope, base_kind);
    auto basis = outs[0].view({-1, batch});
    auto weight = layer_weight(p[0], p[1], p[2], has_base);
    auto sub = torch::mm(weight, basis);  // (n_sub, batch)
    auto node = combine(sub, n_sum[l], arity[l]);
    h = node * p[3].unsqueeze(1);
    h.add_(p[4].unsqueeze(1));
    auto* saved = &result[1 + l * kSaved];
    saved[0] = basis;
    saved[1] = weight;
    saved[2] = with_slope ? outs[1] : torch::empty({0}, x.options());  // empty, never undefined:
    saved[3] = with_slope ? outs[2] : torch::empty({0}, x.options().dtype(torch::kInt64));  // Python saves them
    saved[4] = sub;
    saved[5] = node;
  }
  result[0] = h.t();
  return result;
}

// grad of the output (batch, n_out) -> [grad of x (or undefined), then per layer
// g_coef, g_w_sp, g_w_base (undefined without a base function), g_node_scale, g_node_bias]
std::vector<torch::Tensor> network_backward(torch::Tensor grad, std::vector<torch::Tensor> params,
                                            std::vector<torch::Tensor> saved, int64_t k, int64_t base_kind,
                                            std::vector<int64_t> n_sum, std::vector<std::vector<int64_t>> arity,
                                            bool need_x_grad) {
  const int64_t depth = static_cast<int64_t>(n_sum.size());
  TORCH_CHECK(saved.size() == static_cast<size_t>(depth * kSaved), "saved tensors: ", kSaved, " per layer");
  const bool has_base = base_kind != kNoBase;
  std::vector<torch::Tensor> grads(1 + depth * kPerLayer);
  torch::Tensor g = grad.t();  // gradient of the current level's nodes (after the affine), (nodes, batch)
  for (int64_t l = depth - 1; l >= 0; --l) {
    const auto* p = &params[l * kPerLayer];
    const auto* s = &saved[l * kSaved];
    const auto& coef = p[0];
    const int64_t n_out = coef.size(0), n_in = coef.size(1), n_basis = coef.size(2);
    auto* out = &grads[1 + l * kPerLayer];
    out[4] = g.sum(1);
    out[3] = (g * s[5]).sum(1);
    auto g_sub = uncombine(g * p[3].unsqueeze(1), s[4], n_sum[l], arity[l]);  // (n_sub, batch)
    auto g_weight = torch::mm(g_sub, s[0].t());  // (out, row)
    auto g_spline = g_weight.narrow(1, 0, n_basis * n_in).view({n_out, n_basis, n_in}).transpose(1, 2);
    out[0] = g_spline * p[1].unsqueeze(-1);
    out[1] = (g_spline * coef).sum(-1);
    if (has_base) out[2] = g_weight.narrow(1, n_basis * n_in, n_in);
    if (l > 0 || need_x_grad) g = layer_input_grad(g_sub, s[1], s[2], s[3], k, n_basis, has_base);
  }
  if (need_x_grad) grads[0] = g.t();
  return grads;
}
