#pragma once

namespace hornbeam {

// std::visit with one lambda per alternative: std::visit(Overloaded{[](A&) {}, [](B&) {}}, v).
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// C++20 deduces this by itself; clang 14 (the fuzz build) still needs the guide.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace hornbeam
