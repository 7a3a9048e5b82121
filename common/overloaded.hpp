#pragma once

namespace hornbeam {

// std::visit with one lambda per alternative: std::visit(Overloaded{[](A&) {}, [](B&) {}}, v).
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

}  // namespace hornbeam
