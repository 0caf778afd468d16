// The Python module: bspline.cpp and network.cpp come before this file in one translation unit.

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("input_grad", &input_grad, "gradient of a spline layer's output with respect to its inputs");
  m.def("basis_forward", &basis_forward, "B-spline bases (knot-major) and their slopes");
  m.def("basis_backward", &basis_backward, "gradient of the bases with respect to the points");
  m.def("network_forward", &network_forward, "a whole KAN: output and the tensors its backward needs");
  m.def("network_backward", &network_backward, "gradients of a whole KAN's input and parameters");
}
