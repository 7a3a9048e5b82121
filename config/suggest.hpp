#pragma once

// "did you mean `workers`?": the closest candidate to a misspelt word.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hornbeam::config {

// The candidate with the smallest edit distance to `word`, when it is close enough to be a
// plausible typo (distance at most a third of the word, and at least 2 allowed).
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates);

// " (did you mean `x`?)" or "" when nothing is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace hornbeam::config
