// Fused B-spline basis for KAN layers: one pass per point instead of dozens of tensor operations.
//
// Layout is knot-major, as in kandisco/kan/spline.py: points xt (n_in, batch), dense bases
// (n_basis, n_in, batch). For each point the interval is found by binary search in that input's
// padded knots, de Boor's triangle (Piegl & Tiller A2.2) gives the k + 1 live bases, and their
// first derivatives come from the last stage of the same triangle. The backward pass is a
// gather-multiply-sum over those k + 1 rows. Exactness is tested against scipy's BSpline.
//
// A KAN layer's base function b(x) (silu or identity) can ride along as one more row of the bases
// (row n_basis, with its slope in slope row k + 1): the layer is then a single matmul against
// [spline weights | base weights], and its input gradient one more term in input_grad.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace {

constexpr int64_t kMaxDegree = 15;
constexpr int64_t kGrain = 1024;

enum BaseKind : int64_t { kNoBase = 0, kIdentity = 1, kSilu = 2 };

// sig: sigmoid(x) for silu, precomputed by ATen's vectorised sigmoid (a scalar expf and division
// per point were over half of this kernel's time); unused for identity
template <typename scalar_t>
inline void base_value_and_slope(int64_t kind, scalar_t x, scalar_t sig, scalar_t* value, scalar_t* slope) {
  if (kind == kIdentity) {
    *value = x;
    *slope = scalar_t(1);
  } else {  // silu: x * sigmoid(x), derivative sigmoid(x) * (1 + x * (1 - sigmoid(x)))
    *value = x * sig;
    *slope = sig * (scalar_t(1) + x * (scalar_t(1) - sig));
  }
}

// K > 0: the degree is known at compile time (loops unroll); K = 0: the runtime ``k_runtime``.
// Points are read through strides (stride_in, stride_b), so a transposed (batch, n_in) view needs no copy.
template <typename scalar_t, int64_t K>
void basis_kernel(const scalar_t* xt, int64_t stride_in, int64_t stride_b, const scalar_t* knots,
                  const scalar_t* closing, int64_t n_in, int64_t batch, int64_t n_pad, int64_t k_runtime,
                  int64_t n_basis, int64_t last, int64_t base_kind, const scalar_t* sigmoid, int64_t sig_stride_in,
                  int64_t sig_stride_b, scalar_t* dense, scalar_t* slope, int64_t* first) {
  const int64_t k = K > 0 ? K : k_runtime;
  // de Boor divides by knot spans t[q] - t[q - j] (j = 1..k) that depend on the knots only: invert
  // them once per call, so the per-point triangle multiplies instead of dividing (a zero span, from
  // repeated knots, gives 0: the 0/0 := 0 convention of B-splines)
  std::vector<scalar_t> inv_span(n_in * n_pad * (k + 1), scalar_t(0));
  for (int64_t i = 0; i < n_in; ++i)
    for (int64_t q = 0; q < n_pad; ++q)
      for (int64_t j = 1; j <= k && j <= q; ++j) {
        const scalar_t span = knots[i * n_pad + q] - knots[i * n_pad + q - j];
        inv_span[(i * n_pad + q) * (k + 1) + j] = span > scalar_t(0) ? scalar_t(1) / span : scalar_t(0);
      }
  at::parallel_for(0, n_in * batch, kGrain, [&](int64_t begin, int64_t end) {
    scalar_t left[kMaxDegree + 1], right[kMaxDegree + 1], N[kMaxDegree + 1], temp[kMaxDegree + 1];
    // zero this chunk's spline columns here (in parallel, and hot in cache for the writes below)
    for (int64_t q = 0; q < n_basis; ++q) {
      scalar_t* column = dense + q * n_in * batch;
      std::fill(column + begin, column + end, scalar_t(0));
    }
    for (int64_t p = begin; p < end; ++p) {
      const int64_t i = p / batch, b = p % batch;
      const scalar_t x = xt[i * stride_in + b * stride_b];
      if (base_kind != kNoBase) {
        const scalar_t sig = sigmoid != nullptr ? sigmoid[i * sig_stride_in + b * sig_stride_b] : scalar_t(0);
        scalar_t value, base_slope;
        base_value_and_slope(base_kind, x, sig, &value, &base_slope);
        dense[n_basis * n_in * batch + p] = value;
        if (slope != nullptr) slope[(k + 1) * n_in * batch + p] = base_slope;
      }
      const scalar_t* t = knots + i * n_pad;
      const scalar_t* tc = closing + i * n_pad;
      const scalar_t* inv = inv_span.data() + i * n_pad * (k + 1);  // inv[q * (k + 1) + j] = 1 / (t[q] - t[q - j])
      // m: last padded index with tc[m] <= x (upper_bound - 1); the closing knot keeps t_last inside
      const int64_t m = (std::upper_bound(tc, tc + n_pad, x) - tc) - 1;
      const bool inside = (m >= k) && (m <= last);
      const int64_t mm = std::min(std::max(m, k), last);
      const int64_t q0 = mm - 2 * k;  // real index of live basis 0
      if (first != nullptr) first[p] = q0;
      if (!inside || x != x) {  // outside [t_0, t_last] (or NaN): every basis and slope is 0
        if (slope != nullptr)
          for (int64_t r = 0; r <= k; ++r) slope[r * n_in * batch + p] = scalar_t(0);
        continue;
      }
      N[0] = scalar_t(1);
      for (int64_t j = 1; j <= k; ++j) {
        left[j] = x - t[mm + 1 - j];
        right[j] = t[mm + j] - x;
        scalar_t saved = scalar_t(0);
        for (int64_t r = 0; r < j; ++r) {
          const scalar_t tmp = N[r] * inv[(mm + r + 1) * (k + 1) + j];  // N[r] / (right[r + 1] + left[j - r])
          temp[r] = tmp;
          N[r] = saved + right[r + 1] * tmp;
          saved = left[j - r] * tmp;
        }
        N[j] = saved;
      }
      for (int64_t r = 0; r <= k; ++r) {
        const int64_t q = q0 + r;
        const bool real = (q >= 0) && (q < n_basis);
        if (real) dense[q * n_in * batch + p] = N[r];
        if (slope != nullptr) {
          scalar_t s = scalar_t(0);
          if (real && k > 0) {
            const scalar_t before = r > 0 ? temp[r - 1] : scalar_t(0);
            const scalar_t after = r < k ? temp[r] : scalar_t(0);
            s = scalar_t(k) * (before - after);
          }
          slope[r * n_in * batch + p] = s;
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_kernel(const scalar_t* grad, const scalar_t* slope, const int64_t* first, int64_t n_in,
                     int64_t batch, int64_t k, int64_t n_basis, scalar_t* out) {
  at::parallel_for(0, n_in * batch, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      scalar_t acc = scalar_t(0);
      const int64_t q0 = first[p];
      for (int64_t r = 0; r <= k; ++r) {
        const int64_t q = q0 + r;
        if (q >= 0 && q < n_basis) acc += grad[q * n_in * batch + p] * slope[r * n_in * batch + p];
      }
      out[p] = acc;
    }
  });
}

// d out / d x through the splines, without the full (G+k, in, batch) gradient of the bases: only
// the k + 1 live bases of each point carry weight, so with gw = grad @ weight ((batch, row), row =
// (n_basis + has_base) * n_in)
// g_x[i, b] = sum_r slope[r, i, b] * gw[b, (q0 + r) * n_in + i],
// plus the base row's term when the layer carries one (gw column n_basis * n_in + i).
// column(b, col) supplies gw[b, col]: read from a BLAS-made gw, or formed on the spot (see
// spline_input_grad for which).
template <typename scalar_t, typename Column>
void input_grad_kernel(const Column& column, const scalar_t* slope, const int64_t* first, int64_t n_in,
                       int64_t batch, int64_t k, int64_t n_basis, bool has_base, scalar_t* out) {
  at::parallel_for(0, n_in * batch, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t i = p / batch, b = p % batch;
      scalar_t acc = scalar_t(0);
      for (int64_t r = 0; r <= k; ++r) {
        const int64_t q = first[p] + r;
        if (q >= 0 && q < n_basis) acc += slope[r * n_in * batch + p] * column(b, q * n_in + i);
      }
      if (has_base) acc += slope[(k + 1) * n_in * batch + p] * column(b, n_basis * n_in + i);
      out[p] = acc;
    }
  });
}

// layers with at most this many outputs form grad @ weight's entries on the spot (spline_input_grad)
constexpr int64_t kDirectOutputs = 4;

// d layer / d x (n_in, batch) from the gradient of the layer's outputs, grad_rows (n_out, batch),
// any strides; weight (n_out, row) as the forward used it, slope and first from basis_forward
torch::Tensor spline_input_grad(const torch::Tensor& grad_rows, const torch::Tensor& weight_in,
                                const torch::Tensor& slope, const torch::Tensor& first, int64_t k, int64_t n_basis,
                                bool has_base) {
  const auto weight = weight_in.contiguous();
  const int64_t n_out = grad_rows.size(0), batch = grad_rows.size(1), n_in = first.size(0);
  TORCH_CHECK(weight.size(0) == n_out && weight.size(1) == (n_basis + (has_base ? 1 : 0)) * n_in,
              "weight must be (n_out, (n_basis + has_base) * n_in)");
  TORCH_CHECK(slope.size(0) == k + 1 + (has_base ? 1 : 0), "slope rows must match the degree and base");
  TORCH_CHECK(first.size(1) == batch, "one gradient column per point");
  auto out = torch::empty({n_in, batch}, grad_rows.options());
  const int64_t row = weight.size(1);
  // With few outputs (a network's last layers) gw is mostly waste: at batch 10^4 and G = 20 it is
  // 17 MB in float64 for one output, and writing it cost more than the rest of the backward; its
  // (k + 2) entries per point are formed on the spot instead. With many outputs those per-point
  // dot products are latency-bound (8 outputs: 101 vs 61 us at batch 1000), so BLAS makes gw.
  const torch::Tensor gw = n_out <= kDirectOutputs ? torch::Tensor() : torch::mm(grad_rows.t(), weight);
  AT_DISPATCH_FLOATING_TYPES(grad_rows.scalar_type(), "kandisco_input_grad", [&] {
    const scalar_t *w = weight.data_ptr<scalar_t>(), *g = grad_rows.data_ptr<scalar_t>();
    const int64_t g_stride_j = grad_rows.stride(0), g_stride_b = grad_rows.stride(1);
    auto run = [&](const auto& column) {
      input_grad_kernel<scalar_t>(column, slope.data_ptr<scalar_t>(), first.data_ptr<int64_t>(), n_in, batch, k,
                                  n_basis, has_base, out.data_ptr<scalar_t>());
    };
    if (gw.defined()) {
      const scalar_t* m = gw.data_ptr<scalar_t>();  // (batch, row), contiguous
      run([&](int64_t b, int64_t col) { return m[b * row + col]; });
    } else {
      run([&](int64_t b, int64_t col) {
        scalar_t dot = scalar_t(0);
        for (int64_t j = 0; j < n_out; ++j) dot += g[j * g_stride_j + b * g_stride_b] * w[j * row + col];
        return dot;
      });
    }
  });
  return out;
}

}  // namespace

// base_kind: 0 none, 1 identity, 2 silu; a base adds row n_basis to the bases (and row k + 1 to the slopes).
std::vector<torch::Tensor> basis_forward(torch::Tensor xt, torch::Tensor knots, torch::Tensor closing,
                                         int64_t k, bool with_slope, int64_t base_kind) {
  TORCH_CHECK(xt.dim() == 2 && knots.dim() == 2 && closing.sizes() == knots.sizes(), "bad shapes");
  TORCH_CHECK(xt.size(0) == knots.size(0), "one knot vector per input row");
  TORCH_CHECK(k >= 0 && k <= kMaxDegree, "degree out of range");
  TORCH_CHECK(base_kind >= kNoBase && base_kind <= kSilu, "unknown base function code");
  TORCH_CHECK(xt.scalar_type() == knots.scalar_type() && xt.scalar_type() == closing.scalar_type(),
              "points and knots must share a dtype");
  knots = knots.contiguous();
  closing = closing.contiguous();
  const int64_t n_in = xt.size(0), batch = xt.size(1), n_pad = knots.size(1);
  const int64_t n_knots = n_pad - 2 * k, n_basis = n_knots - k - 1, last = k + n_knots - 2;
  TORCH_CHECK(n_basis >= 1, "too few knots");
  const int64_t has_base = base_kind != kNoBase ? 1 : 0;
  auto dense = torch::empty({n_basis + has_base, n_in, batch}, xt.options());  // zeroed chunk by chunk by the kernel
  torch::Tensor slope, first;
  if (with_slope) {
    slope = torch::empty({k + 1 + has_base, n_in, batch}, xt.options());
    first = torch::empty({n_in, batch}, xt.options().dtype(torch::kInt64));
  }
  // read through its own strides: sigmoid keeps a transposed input's layout, and a copy to
  // contiguous would cost more than the sigmoid
  const torch::Tensor sigmoid = base_kind == kSilu ? torch::sigmoid(xt) : torch::Tensor();
  const bool has_sigmoid = sigmoid.defined();
  AT_DISPATCH_FLOATING_TYPES(xt.scalar_type(), "kandisco_basis_forward", [&] {
    auto run = [&](auto degree) {
      basis_kernel<scalar_t, decltype(degree)::value>(
          xt.data_ptr<scalar_t>(), xt.stride(0), xt.stride(1), knots.data_ptr<scalar_t>(),
          closing.data_ptr<scalar_t>(), n_in, batch, n_pad, k, n_basis, last, base_kind,
          has_sigmoid ? sigmoid.data_ptr<scalar_t>() : nullptr, has_sigmoid ? sigmoid.stride(0) : 0,
          has_sigmoid ? sigmoid.stride(1) : 0, dense.data_ptr<scalar_t>(),
          with_slope ? slope.data_ptr<scalar_t>() : nullptr, with_slope ? first.data_ptr<int64_t>() : nullptr);
    };
    switch (k) {
      case 1: run(std::integral_constant<int64_t, 1>{}); break;
      case 2: run(std::integral_constant<int64_t, 2>{}); break;
      case 3: run(std::integral_constant<int64_t, 3>{}); break;
      default: run(std::integral_constant<int64_t, 0>{}); break;
    }
  });
  if (with_slope) return {dense, slope, first};
  return {dense};
}

torch::Tensor basis_backward(torch::Tensor grad, torch::Tensor slope, torch::Tensor first, int64_t k) {
  grad = grad.contiguous();
  const int64_t n_basis = grad.size(0), n_in = grad.size(1), batch = grad.size(2);
  auto out = torch::empty({n_in, batch}, grad.options());
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "kandisco_basis_backward", [&] {
    backward_kernel<scalar_t>(grad.data_ptr<scalar_t>(), slope.data_ptr<scalar_t>(), first.data_ptr<int64_t>(),
                              n_in, batch, k, n_basis, out.data_ptr<scalar_t>());
  });
  return out;
}

// grad (batch, n_out): the gradient of a layer's output, as autograd hands it over
torch::Tensor input_grad(torch::Tensor grad, torch::Tensor weight, torch::Tensor slope, torch::Tensor first,
                         int64_t k, int64_t n_basis, bool has_base) {
  return spline_input_grad(grad.t(), weight, slope, first, k, n_basis, has_base);
}
