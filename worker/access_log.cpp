#include "worker/access_log.hpp"
#include "common/http_text.hpp"
#include "common/log_text.hpp"

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <ctime>

namespace hornbeam::worker {
namespace {

using logging::escape_for_log;

std::string header_value(const std::vector<HttpHeader>* headers, std::string_view name) {
  if (!headers) return "-";
  for (const auto& header : *headers) {
    if (iequals(header.name, name)) return escape_for_log(header.value);
  }
  return "-";
}

// "[29/Nov/2026:01:22:37 +0000]", Apache's %t.
std::string apache_time(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[40];
  std::strftime(text, sizeof text, "[%d/%b/%Y:%H:%M:%S %z]", &local);
  return text;
}

std::string query_of(const std::string& target) {
  const auto question = target.find('?');
  return question == std::string::npos ? std::string() : target.substr(question + 1);
}

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

std::string protocol(int version) {
  return version == 10 ? "HTTP/1.0" : version == 20 ? "HTTP/2.0" : "HTTP/1.1";
}

}  // namespace

AccessLogFormat::AccessLogFormat(const std::string& format) {
  std::string literal;
  std::size_t i = 0;
  while (i < format.size()) {
    // "%%" is a percent sign, as in Gunicorn's format (Python's % formatting).
    if (format.compare(i, 2, "%%") == 0) {
      literal += '%';
      i += 2;
      continue;
    }
    if (format.compare(i, 2, "%(") == 0) {
      const auto close = format.find(")s", i + 2);
      if (close != std::string::npos) {
        if (!literal.empty()) parts_.push_back({std::move(literal), {}});
        literal.clear();
        std::string atom = format.substr(i + 2, close - i - 2);
        std::string lowered = atom;
        for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (atom.size() > 3 && atom.front() == '{' && lowered.ends_with("}i"))
          uses_request_headers_ = true;
        if (atom.size() > 3 && atom.front() == '{' && lowered.ends_with("}o"))
          uses_response_headers_ = true;
        parts_.push_back({{}, std::move(atom)});
        i = close + 2;
        continue;
      }
    }
    literal += format[i++];
  }
  if (!literal.empty()) parts_.push_back({std::move(literal), {}});
  // Referer and User-Agent (f, a) come from the request headers too.
  for (const auto& part : parts_) {
    if (part.atom == "f" || part.atom == "a") uses_request_headers_ = true;
  }
}

std::string AccessLogFormat::text(const AccessEntry& e) const {
  std::string line;
  line.reserve(160);
  const auto micros = e.duration.count();
  for (const auto& part : parts_) {
    const std::string& a = part.atom;
    if (a.empty())
      line += part.literal;
    else if (a == "h")
      line += e.remote_addr.empty() ? "-" : e.remote_addr;
    else if (a == "l" || a == "u")
      line += "-";
    else if (a == "t")
      line += apache_time(e.started);
    else if (a == "r")
      line += escape_for_log(e.method + " " + e.target + " " + protocol(e.version));
    else if (a == "m")
      line += escape_for_log(e.method);
    else if (a == "U")
      line += escape_for_log(path_of(e.target));
    else if (a == "q")
      line += escape_for_log(query_of(e.target));
    else if (a == "H")
      line += protocol(e.version);
    else if (a == "s")
      line += std::to_string(e.status);
    else if (a == "B")
      line += std::to_string(e.body_bytes);
    else if (a == "b")
      line += e.body_bytes ? std::to_string(e.body_bytes) : "-";
    else if (a == "f")
      line += header_value(e.request_headers, "Referer");
    else if (a == "a")
      line += header_value(e.request_headers, "User-Agent");
    else if (a == "T")
      line += std::to_string(micros / 1'000'000);
    else if (a == "D")
      line += std::to_string(micros);
    else if (a == "M")
      line += std::to_string(micros / 1000);
    else if (a == "L") {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.6f", static_cast<double>(micros) / 1e6);
      line += seconds;
    } else if (a == "p")
      line += "<" + std::to_string(::getpid()) + ">";
    else if (a.front() == '{' && a.size() > 3 && (a.back() == 'i' || a.back() == 'I')) {
      line += header_value(e.request_headers, std::string_view(a).substr(1, a.size() - 3));
    } else if (a.front() == '{' && a.size() > 3 && (a.back() == 'o' || a.back() == 'O')) {
      line += header_value(e.response_headers, std::string_view(a).substr(1, a.size() - 3));
    } else if (a == "{SSL_PROTOCOL}e")
      line += e.tls ? e.tls->protocol : "-";
    else if (a == "{SSL_CIPHER}e")
      line += e.tls ? e.tls->cipher : "-";
    else if (a == "{SSL_CLIENT_S_DN}e")
      line += e.tls && !e.tls->client_subject.empty() ? escape_for_log(e.tls->client_subject) : "-";
    else
      line += "-";
  }
  return line;
}

std::string AccessLogFormat::json(const AccessEntry& e) {
  nlohmann::json record = {
      {"remote_addr", e.remote_addr},
      {"method", e.method},
      {"target", e.target},
      {"protocol", protocol(e.version)},
      {"status", e.status},
      {"bytes", e.body_bytes},
      {"duration_us", e.duration.count()},
      {"referer", header_value(e.request_headers, "Referer")},
      {"user_agent", header_value(e.request_headers, "User-Agent")},
  };
  if (e.tls) {
    record["tls_protocol"] = e.tls->protocol;
    record["tls_cipher"] = e.tls->cipher;
  }
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hornbeam::worker
