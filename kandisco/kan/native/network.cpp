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

// The glue between matmuls is plain loops over raw pointers: with ATen operations instead (about
// 15 per layer, narrow/view/mul/sum/copy), dispatch cost more than the arithmetic at these sizes.

// (out, in, n_basis) coefficients times w_sp, knot-major, then the base weights: the
// (out, (n_basis + has_base) * in) matrix the kernel's bases meet
torch::Tensor layer_weight(const torch::Tensor& coef_in, const torch::Tensor& w_sp_in, const torch::Tensor& w_base_in,
                           bool has_base) {
  const auto coef = coef_in.contiguous(), w_sp = w_sp_in.contiguous(), w_base = w_base_in.contiguous();
  const int64_t n_out = coef.size(0), n_in = coef.size(1), n_basis = coef.size(2);
  const int64_t row = (n_basis + (has_base ? 1 : 0)) * n_in;
  auto weight = torch::empty({n_out, row}, coef.options());
  AT_DISPATCH_FLOATING_TYPES(coef.scalar_type(), "kandisco_layer_weight", [&] {
    const scalar_t *c = coef.data_ptr<scalar_t>(), *ws = w_sp.data_ptr<scalar_t>(), *wb = w_base.data_ptr<scalar_t>();
    scalar_t* w = weight.data_ptr<scalar_t>();
    for (int64_t j = 0; j < n_out; ++j)
      for (int64_t i = 0; i < n_in; ++i) {
        const int64_t e = j * n_in + i;
        for (int64_t q = 0; q < n_basis; ++q) w[j * row + q * n_in + i] = c[e * n_basis + q] * ws[e];
        if (has_base) w[j * row + n_basis * n_in + i] = wb[e];
      }
  });
  return weight;
}

// gradients of coef, w_sp and w_base from the gradient of layer_weight's matrix (out, row)
void layer_weight_backward(const torch::Tensor& g_weight, const torch::Tensor& coef_in, const torch::Tensor& w_sp_in,
                           bool has_base, torch::Tensor* g_coef, torch::Tensor* g_sp, torch::Tensor* g_base) {
  const auto coef = coef_in.contiguous(), w_sp = w_sp_in.contiguous();
  const int64_t n_out = coef.size(0), n_in = coef.size(1), n_basis = coef.size(2), row = g_weight.size(1);
  *g_coef = torch::empty_like(coef);
  *g_sp = torch::empty_like(w_sp);
  AT_DISPATCH_FLOATING_TYPES(coef.scalar_type(), "kandisco_layer_weight_backward", [&] {
    const scalar_t *gw = g_weight.data_ptr<scalar_t>(), *c = coef.data_ptr<scalar_t>(), *ws = w_sp.data_ptr<scalar_t>();
    scalar_t *gc = g_coef->data_ptr<scalar_t>(), *gs = g_sp->data_ptr<scalar_t>();
    for (int64_t j = 0; j < n_out; ++j)
      for (int64_t i = 0; i < n_in; ++i) {
        const int64_t e = j * n_in + i;
        double acc = 0;
        for (int64_t q = 0; q < n_basis; ++q) {
          const scalar_t g = gw[j * row + q * n_in + i];
          gc[e * n_basis + q] = g * ws[e];
          acc += static_cast<double>(g) * c[e * n_basis + q];
        }
        gs[e] = static_cast<scalar_t>(acc);
      }
  });
  if (has_base) *g_base = g_weight.narrow(1, n_basis * n_in, n_in);
}

// nodes per parallel chunk: threads only pay off with some 16k values each
int64_t node_grain(int64_t batch) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(batch, 1)); }

// where each node of a level finds its subnodes: sums take one, multiplication nodes `arity`
// consecutive ones after the sums
struct NodeLayout {
  std::vector<int64_t> first_sub, n_factors;
  int64_t n_sub;

  NodeLayout(int64_t n_sum, const std::vector<int64_t>& arity)
      : first_sub(n_sum + arity.size()), n_factors(n_sum + arity.size(), 1), n_sub(n_sum) {
    for (int64_t n = 0; n < n_sum; ++n) first_sub[n] = n;
    for (size_t j = 0; j < arity.size(); ++j) {
      first_sub[n_sum + j] = n_sub;
      n_factors[n_sum + j] = arity[j];
      n_sub += arity[j];
    }
  }
};

// subnodes (n_sub, batch) -> the level's values h = node * scale + bias (n_nodes, batch); nodes
// are the sums, then each multiplication node's product of its consecutive subnodes (multiplied in
// subnode order, as the torch path does). `node` (n_nodes, batch) receives the nodes when the
// level has multiplication nodes (the backward needs them); otherwise the nodes are the subnodes.
torch::Tensor level_forward(const torch::Tensor& sub, int64_t n_sum, const std::vector<int64_t>& arity,
                            const torch::Tensor& scale_in, const torch::Tensor& bias_in, torch::Tensor* node) {
  const auto scale = scale_in.contiguous(), bias = bias_in.contiguous();
  const int64_t batch = sub.size(1), n_nodes = n_sum + static_cast<int64_t>(arity.size());
  auto h = torch::empty({n_nodes, batch}, sub.options());
  *node = arity.empty() ? sub : torch::empty({n_nodes, batch}, sub.options());
  const NodeLayout nodes(n_sum, arity);
  AT_DISPATCH_FLOATING_TYPES(sub.scalar_type(), "kandisco_level_forward", [&] {
    const scalar_t *s = sub.data_ptr<scalar_t>(), *sc = scale.data_ptr<scalar_t>(), *bi = bias.data_ptr<scalar_t>();
    scalar_t *out = h.data_ptr<scalar_t>(), *nd = node->data_ptr<scalar_t>();
    at::parallel_for(0, n_nodes, node_grain(batch), [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        const scalar_t* f = s + nodes.first_sub[n] * batch;
        scalar_t* o = out + n * batch;
        if (nodes.n_factors[n] == 1) {
          for (int64_t b = 0; b < batch; ++b) o[b] = f[b] * sc[n] + bi[n];
          if (!arity.empty()) std::copy(f, f + batch, nd + n * batch);
          continue;
        }
        scalar_t* v = nd + n * batch;
        for (int64_t b = 0; b < batch; ++b) v[b] = f[b] * f[batch + b];
        for (int64_t r = 2; r < nodes.n_factors[n]; ++r)
          for (int64_t b = 0; b < batch; ++b) v[b] *= f[r * batch + b];
        for (int64_t b = 0; b < batch; ++b) o[b] = v[b] * sc[n] + bi[n];
      }
    });
  });
  return h;
}

// gradient g of the level's values (n_nodes, batch; any strides) -> gradient of the subnodes
// (n_sub, batch), and of node_scale and node_bias (sums over the batch, accumulated in double)
torch::Tensor level_backward(const torch::Tensor& g, const torch::Tensor& sub, const torch::Tensor& node,
                             int64_t n_sum, const std::vector<int64_t>& arity, const torch::Tensor& scale_in,
                             torch::Tensor* g_scale, torch::Tensor* g_bias) {
  const auto scale = scale_in.contiguous();
  const int64_t batch = sub.size(1), n_nodes = n_sum + static_cast<int64_t>(arity.size());
  const NodeLayout nodes(n_sum, arity);
  auto g_sub = torch::empty({nodes.n_sub, batch}, sub.options());
  *g_scale = torch::empty({n_nodes}, sub.options());
  *g_bias = torch::empty({n_nodes}, sub.options());
  const int64_t gs_n = g.stride(0), gs_b = g.stride(1);
  AT_DISPATCH_FLOATING_TYPES(sub.scalar_type(), "kandisco_level_backward", [&] {
    const scalar_t *gp = g.data_ptr<scalar_t>(), *s = sub.data_ptr<scalar_t>(), *nd = node.data_ptr<scalar_t>();
    const scalar_t* sc = scale.data_ptr<scalar_t>();
    scalar_t* gsub = g_sub.data_ptr<scalar_t>();
    scalar_t *gsc = g_scale->data_ptr<scalar_t>(), *gbi = g_bias->data_ptr<scalar_t>();
    at::parallel_for(0, n_nodes, node_grain(batch), [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        const scalar_t* gn = gp + n * gs_n;
        const scalar_t* v = nd + n * batch;
        const int64_t a = nodes.n_factors[n];
        scalar_t* out = gsub + nodes.first_sub[n] * batch;  // this node's a subnode rows
        const scalar_t* f = s + nodes.first_sub[n] * batch;
        double acc_scale = 0, acc_bias = 0;
        for (int64_t b = 0; b < batch; ++b) {
          const scalar_t gv = gn[b * gs_b];
          acc_bias += gv;
          acc_scale += static_cast<double>(gv) * v[b];
          out[b] = gv * sc[n];  // the node's gradient, in the first factor's row for now
        }
        gsc[n] = static_cast<scalar_t>(acc_scale);
        gbi[n] = static_cast<scalar_t>(acc_bias);
        if (a == 1) continue;
        // d(f_0 ... f_{a-1}) / d f_r = product of the other factors; row 0 is overwritten last
        for (int64_t r = a - 1; r >= 0; --r) {
          scalar_t* o = out + r * batch;
          for (int64_t b = 0; b < batch; ++b) {
            scalar_t other = scalar_t(1);
            bool started = false;
            for (int64_t q = 0; q < a; ++q) {
              if (q == r) continue;
              other = started ? other * f[q * batch + b] : f[q * batch + b];
              started = true;
            }
            o[b] = out[b] * other;
          }
        }
      }
    });
  });
  return g_sub;
}

void check_plan(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& knots,
                const std::vector<torch::Tensor>& closing, const std::vector<int64_t>& n_sum,
                const std::vector<std::vector<int64_t>>& arity) {
  const size_t depth = knots.size();
  TORCH_CHECK(depth >= 1 && params.size() == depth * kPerLayer && closing.size() == depth &&
                  n_sum.size() == depth && arity.size() == depth,
              "network plan: one entry per layer in every list (", kPerLayer, " parameters each)");
  for (size_t l = 0; l < depth; ++l) {
    for (int64_t a : arity[l]) TORCH_CHECK(a >= 2, "multiplication nodes need arity >= 2");
    const auto& coef = params[l * kPerLayer];
    TORCH_CHECK(coef.dim() == 3 && coef.size(0) == NodeLayout(n_sum[l], arity[l]).n_sub,
                "layer ", l, ": coef rows must equal its subnodes");
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
    auto basis = outs[0].flatten(0, 1);  // (rows, batch); view({-1, batch}) fails on an empty batch
    auto weight = layer_weight(p[0], p[1], p[2], has_base);
    auto sub = torch::mm(weight, basis);  // (n_sub, batch)
    torch::Tensor node;
    h = level_forward(sub, n_sum[l], arity[l], p[3], p[4], &node);
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
    const int64_t n_basis = p[0].size(2);
    auto* out = &grads[1 + l * kPerLayer];
    auto g_sub = level_backward(g, s[4], s[5], n_sum[l], arity[l], p[3], &out[3], &out[4]);  // (n_sub, batch)
    auto g_weight = torch::mm(g_sub, s[0].t());  // (out, row)
    layer_weight_backward(g_weight, p[0], p[1], has_base, &out[0], &out[1], &out[2]);
    if (l > 0 || need_x_grad) g = spline_input_grad(g_sub, s[1], s[2], s[3], k, n_basis, has_base);
  }
  if (need_x_grad) grads[0] = g.t();
  return grads;
}
