#include "python/wsgi_adapter.hpp"
#include "common/http_text.hpp"

#include "common/log_text.hpp"
#include "common/logging.hpp"
#include "common/version.hpp"
#include "python/gil.hpp"
#include "python/interpreter.hpp"
#include "python/wsgi_file_wrapper.hpp"
#include "python/wsgi_input.hpp"
#include "python/wsgi_start_response.hpp"

#include <spdlog/logger.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace hornbeam::python {
namespace {

PyRef intern(const char* text) { return PyRef::steal(PyUnicode_InternFromString(text)); }

PyRef latin1(std::string_view text) {
  return PyRef::steal(
      PyUnicode_DecodeLatin1(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
}

void set_item(PyObject* dict, const PyRef& key, const PyRef& value) {
  if (!value || PyDict_SetItem(dict, key.get(), value.get()) != 0) {
    throw std::runtime_error("cannot build the WSGI environ: " + take_exception_text());
  }
}

// mod_ssl's names, which Django's and Flask's users (and their middleware) know: those of the
// connection's session here (they go in a template, see tls_environ_template), the client
// certificate's below, only when there is one.
void set_text(PyObject* environ, const char* key, const std::string& value) {
  set_item(environ, PyRef::steal(PyUnicode_InternFromString(key)), latin1(value));
}

void set_tls_session_keys(PyObject* environ, const TlsSession& tls) {
  set_text(environ, "HTTPS", "on");
  set_text(environ, "SSL_PROTOCOL", tls.protocol);
  set_text(environ, "SSL_CIPHER", tls.cipher);
  set_text(environ, "SSL_CLIENT_VERIFY", tls.client_verify);
}

void set_client_certificate_keys(PyObject* environ, const TlsSession& tls) {
  if (tls.client_cert_pem.empty()) return;
  set_text(environ, "SSL_CLIENT_S_DN", tls.client_subject);
  set_text(environ, "SSL_CLIENT_I_DN", tls.client_issuer);
  set_text(environ, "SSL_CLIENT_CERT", tls.client_cert_pem);
}

// A port as text, without std::to_string's std::string.
struct Decimal {
  std::array<char, 8> digits;
  std::size_t size;
  operator std::string_view() const { return {digits.data(), size}; }
};
Decimal decimal(std::uint16_t number) {
  Decimal text{};
  text.size = static_cast<std::size_t>(
      std::to_chars(text.digits.data(), text.digits.data() + text.digits.size(), number).ptr -
      text.digits.data());
  return text;
}

bool declares_length(const std::vector<HttpHeader>& headers) {
  return std::any_of(headers.begin(), headers.end(), [](const HttpHeader& header) {
    return iequals(header.name, "Content-Length");
  });
}

// PEP 3333 lets a server work out the Content-Length of a body that is one item (as wsgiref
// does): the response then goes with its length rather than chunked, or on HTTP/1.0
// close-delimited (which ends the connection). Not for HEAD, whose app may return nothing, nor
// for statuses that have no body.
void declare_length_of_single_item(PyObject* result, std::string_view method,
                                   WsgiResponseState& state) {
  if (!state.called || state.head_sent || method == "HEAD") return;
  PyObject* item = nullptr;  // borrowed
  if (PyList_CheckExact(result) && PyList_GET_SIZE(result) == 1) {
    item = PyList_GET_ITEM(result, 0);
  } else if (PyTuple_CheckExact(result) && PyTuple_GET_SIZE(result) == 1) {
    item = PyTuple_GET_ITEM(result, 0);
  }
  if (!item || !PyBytes_Check(item)) return;  // the body's loop reports what is not bytes
  const std::string_view status = state.status;
  if (status.starts_with('1') || status.starts_with("204") || status.starts_with("304")) return;
  if (declares_length(state.headers)) return;
  state.headers.push_back({"Content-Length", std::to_string(PyBytes_GET_SIZE(item))});
}

// The iterable's close method, or null. A list or tuple (most apps' body) has none; for others
// the lookup must not raise and clear an AttributeError when there is none: that cost an
// eighth of a hello world's instructions.
PyRef close_method(PyObject* result, PyObject* name) {
  if (!result || PyList_CheckExact(result) || PyTuple_CheckExact(result)) return {};
  PyObject* method = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
  const int found = PyObject_GetOptionalAttr(result, name, &method);
#else
  const int found = _PyObject_LookupAttr(result, name, &method);
#endif
  if (found < 0) PyErr_Clear();  // a failing lookup is treated as no close()
  return PyRef::steal(method);
}

// "X-Forwarded-For" → "HTTP_X_FORWARDED_FOR".
std::string cgi_name(std::string_view header) {
  std::string name = "HTTP_";
  for (const char c : header)
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

struct WsgiAdapter::Keys {
  PyRef request_method = intern("REQUEST_METHOD");
  PyRef path_info = intern("PATH_INFO");
  PyRef query_string = intern("QUERY_STRING");
  PyRef raw_uri = intern("RAW_URI");
  PyRef content_type = intern("CONTENT_TYPE");
  PyRef content_length = intern("CONTENT_LENGTH");
  PyRef server_name = intern("SERVER_NAME");
  PyRef server_port = intern("SERVER_PORT");
  PyRef server_protocol = intern("SERVER_PROTOCOL");
  PyRef remote_addr = intern("REMOTE_ADDR");
  PyRef remote_port = intern("REMOTE_PORT");
  PyRef url_scheme = intern("wsgi.url_scheme");
  PyRef input = intern("wsgi.input");
  PyRef http_1_1 = intern("HTTP/1.1");
  PyRef http_1_0 = intern("HTTP/1.0");
  PyRef http_2 = intern("HTTP/2");
  PyRef get = intern("GET");
  PyRef post = intern("POST");
};

WsgiAdapter::WsgiAdapter(PyRef app, const WsgiSettings& settings)
    : app_(std::move(app)),
      script_name_(settings.prefix == "/" ? "" : settings.prefix),
      keys_(std::make_unique<Keys>()) {
  start_response_type_ = make_start_response_type();
  input_type_ = make_input_type();
  PyRef io = PyRef::steal(PyImport_ImportModule("io"));
  if (io) bytes_io_ = PyRef::steal(PyObject_GetAttrString(io.get(), "BytesIO"));
  file_wrapper_type_ = make_file_wrapper_type();
  PyObject* errors = PySys_GetObject("stderr");  // borrowed
  if (!start_response_type_ || !input_type_ || !file_wrapper_type_ || !bytes_io_ || !close_name_) {
    throw std::runtime_error("cannot prepare the WSGI adapter: " + take_exception_text());
  }

  // Room for the CGI variables and a dozen headers: a request's environ is a copy of this
  // table, and one of the right size is never resized while the request's keys go in.
  environ_template_ = PyRef::steal(_PyDict_NewPresized(48));
  if (!environ_template_) throw std::runtime_error("cannot prepare the WSGI environ");
  PyObject* t = environ_template_.get();
  set_item(t, intern("wsgi.version"), PyRef::steal(Py_BuildValue("(ii)", 1, 0)));
  set_item(t, keys_->url_scheme, intern("http"));
  set_item(t, intern("wsgi.errors"), PyRef::borrow(errors ? errors : Py_None));
  set_item(t, intern("wsgi.multithread"), PyRef::borrow(settings.multithread ? Py_True : Py_False));
  set_item(t, intern("wsgi.multiprocess"),
           PyRef::borrow(settings.multiprocess ? Py_True : Py_False));
  set_item(t, intern("wsgi.run_once"), PyRef::borrow(Py_False));
  set_item(t, intern("wsgi.input_terminated"), PyRef::borrow(Py_True));
  set_item(t, intern("wsgi.file_wrapper"), file_wrapper_type_);
  // PEP 3333: the app's mount point (its prefix, as configured); PATH_INFO is the rest.
  set_item(t, intern("SCRIPT_NAME"), latin1(script_name_));
  set_item(t, intern("SERVER_SOFTWARE"), latin1(std::string("hornbeam/") + version_number()));
  // Keys every request sets: present already, a request only replaces their values.
  const Keys& k = *keys_;
  for (const PyRef* key :
       {&k.request_method, &k.path_info, &k.query_string, &k.raw_uri, &k.server_protocol,
        &k.server_name, &k.server_port, &k.remote_addr, &k.remote_port, &k.input}) {
    set_item(t, *key, PyRef::borrow(Py_None));
  }
}

PyRef WsgiAdapter::header_key(const std::string& name) {
  if (const auto known = header_keys_.find(name); known != header_keys_.end()) return known->second;
  PyRef key = PyRef::steal(PyUnicode_InternFromString(cgi_name(name).c_str()));
  if (key && header_keys_.size() < 64) header_keys_.emplace(name, key);
  return key;
}

WsgiAdapter::~WsgiAdapter() = default;

// The environ template of requests on TLS connections: the plain one with the https scheme and
// the session's keys. Nearly every connection has the same protocol, cipher and verification
// result, so the template made for the last one seen serves the next: making these nine
// strings per request cost a tenth of an HTTPS hello world's CPU (13.3 against 11.9 µs).
PyObject* WsgiAdapter::tls_environ_template(const TlsSession& tls) {
  TlsTemplate& cached = tls_template_;
  if (!cached.environ || cached.protocol != tls.protocol || cached.cipher != tls.cipher ||
      cached.client_verify != tls.client_verify) {
    PyRef environ = PyRef::steal(PyDict_Copy(environ_template_.get()));
    if (!environ)
      throw std::runtime_error("cannot build the WSGI environ: " + take_exception_text());
    set_item(environ.get(), keys_->url_scheme, intern("https"));
    set_tls_session_keys(environ.get(), tls);
    cached = {tls.protocol, tls.cipher, tls.client_verify, std::move(environ)};
  }
  return cached.environ.get();
}

PyRef WsgiAdapter::LastText::get(std::string_view value) {
  if (!object || text != value) {
    object = latin1(value);
    text = value;
  }
  return object;
}

PyRef WsgiAdapter::build_environ(const HttpRequest& request) {
  PyRef environ = PyRef::steal(
      PyDict_Copy(request.tls ? tls_environ_template(*request.tls) : environ_template_.get()));
  if (!environ) throw std::runtime_error("cannot build the WSGI environ: " + take_exception_text());
  PyObject* e = environ.get();
  const Keys& k = *keys_;
  set_item(e, k.request_method,
           request.method == "GET"    ? k.get
           : request.method == "POST" ? k.post
                                      : latin1(request.method));
  // The router matched the prefix on the raw path: what follows it is PATH_INFO ("" for the
  // prefix itself, as PEP 3333 allows and Werkzeug and Django take).
  set_item(e, k.path_info,
           latin1(percent_decode(std::string_view(request.path).substr(script_name_.size()))));
  set_item(e, k.query_string, latin1(request.query));
  set_item(e, k.raw_uri, latin1(request.target));
  set_item(e, k.server_protocol,
           request.version == 10   ? k.http_1_0
           : request.version == 20 ? k.http_2
                                   : k.http_1_1);
  set_item(e, k.server_name, server_name_.get(request.server_name));
  set_item(e, k.server_port, server_port_.get(decimal(request.server_port)));
  set_item(e, k.remote_addr, remote_addr_.get(request.remote_addr));
  set_item(e, k.remote_port, latin1(decimal(request.remote_port)));
  // The template's scheme is the connection's; a trusted proxy's header may say otherwise.
  if (request.url_scheme != (request.tls ? "https" : "http"))
    set_item(e, k.url_scheme, latin1(request.url_scheme));
  if (request.tls) set_client_certificate_keys(e, *request.tls);

  for (const auto& header : request.headers) {
    PyRef value = latin1(header.value);
    // CONTENT_TYPE and CONTENT_LENGTH hold one value: the last one sent (HTTP/1 refuses a
    // repeated one; HTTP/2 may bring two Content-Types).
    if (iequals(header.name, "Content-Type")) {
      set_item(e, k.content_type, value);
      continue;
    }
    if (iequals(header.name, "Content-Length")) {
      set_item(e, k.content_length, value);
      continue;
    }
    const PyRef key = header_key(header.name);
    // Stored unless the name came before: one dict lookup, where a get then a set made two.
    PyObject* stored = key && value ? PyDict_SetDefault(e, key.get(), value.get()) : nullptr;
    if (!stored)
      throw std::runtime_error("cannot build the WSGI environ: " + take_exception_text());
    if (stored != value.get()) {
      // Repeated fields are joined as one list-valued field (RFC 9110 §5.3).
      set_item(e, key, PyRef::steal(PyUnicode_FromFormat("%U, %U", stored, value.get())));
    }
  }
  if (request.body_stream) {
    set_item(e, k.input, make_input(input_type_.get(), request.body_stream));
  } else {
    PyRef body = PyRef::steal(PyBytes_FromStringAndSize(
        request.body.data(), static_cast<Py_ssize_t>(request.body.size())));
    // BytesIO shares the bytes object until it is written to: no second copy.
    set_item(e, k.input, PyRef::steal(PyObject_CallOneArg(bytes_io_.get(), body.get())));
  }
  return environ;
}

// The sendfile fast path, taken only when provably safe: the app returned our file_wrapper
// untouched, nothing was written yet, and the file-like object is a regular file with a
// descriptor. Its logical position (tell(), which sees Python's buffer) is where sending
// starts. Anything else falls back to iterating the wrapper.
bool WsgiAdapter::send_as_file(PyObject* result, WsgiResponseState& state) {
  PyObject* filelike = wrapped_file(file_wrapper_type_.get(), result);
  if (!filelike || !state.called || state.head_sent) return false;
  PyRef fileno = PyRef::steal(PyObject_CallMethod(filelike, "fileno", nullptr));
  PyRef position = fileno ? PyRef::steal(PyObject_CallMethod(filelike, "tell", nullptr)) : PyRef();
  if (!fileno || !position) {
    PyErr_Clear();
    return false;
  }
  const long fd = PyLong_AsLong(fileno.get());
  const long long offset = PyLong_AsLongLong(position.get());
  struct stat info {};
  if (PyErr_Occurred() || fd < 0 || offset < 0 || ::fstat(static_cast<int>(fd), &info) != 0 ||
      !S_ISREG(info.st_mode) || offset > info.st_size) {
    PyErr_Clear();
    return false;
  }
  UniqueFd copy(::fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC,
                        0));  // the app's close() must not pull it away
  if (!copy) return false;
  std::uint64_t length = static_cast<std::uint64_t>(info.st_size - offset);
  if (!declares_length(state.headers)) {
    state.headers.push_back(
        {"Content-Length", std::to_string(length)});  // known: no chunking needed
  }
  state.send_head();
  GilRelease unlocked;
  state.client_gone =
      !state.sink->send_file(std::move(copy), static_cast<std::uint64_t>(offset), length);
  return true;
}

void WsgiAdapter::handle(HttpRequest& request, ResponseSink& sink) {
  WsgiResponseState state;
  state.sink = &sink;
  PyRef start_response = make_start_response(start_response_type_.get(), &state);
  PyRef result;
  bool failed = false;
  // A body the I/O side refused (malformed, or not sent in time) has its 400 or 408 already
  // (or its connection cut): what the app then did (let the read's exception through, or
  // caught it) is not an error of the app's, and the I/O side logged why.
  const auto body_refused = [&] { return request.body_stream && request.body_stream->refused(); };
  try {
    PyRef environ = build_environ(request);
    sink.return_fields(std::move(request.headers));  // the environ has them now
    result = PyRef::steal(
        PyObject_CallFunctionObjArgs(app_.get(), environ.get(), start_response.get(), nullptr));
  } catch (const std::exception& e) {
    logging::error_log().error("{} {}: {}", request.method, logging::escape_for_log(request.target),
                               e.what());
    failed = true;
  }
  if (!result && !failed) {
    const std::string traceback = take_exception_text();
    if (!body_refused()) {
      logging::error_log().error("error handling {} {}:\n{}", request.method,
                                 logging::escape_for_log(request.target), traceback);
    }
    failed = true;
  }

  const bool sent_as_file = !failed && send_as_file(result.get(), state);
  if (!failed && !sent_as_file) {
    declare_length_of_single_item(result.get(), request.method, state);
    // A list or tuple is the whole body already: its chunks need not be flushed one by one.
    const bool whole_body = PyList_CheckExact(result.get()) || PyTuple_CheckExact(result.get());
    PyRef iterator = PyRef::steal(PyObject_GetIter(result.get()));
    while (iterator && !state.client_gone) {
      PyRef chunk = PyRef::steal(PyIter_Next(iterator.get()));
      if (!chunk) break;
      if (!PyBytes_Check(chunk.get())) {
        PyErr_Format(PyExc_TypeError, "the app's iterable yielded %.200s, not bytes",
                     Py_TYPE(chunk.get())->tp_name);
        break;
      }
      if (PyBytes_GET_SIZE(chunk.get()) == 0) continue;
      if (!state.called) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the app returned body data before calling start_response");
        break;
      }
      state.write(std::string_view(PyBytes_AS_STRING(chunk.get()), PyBytes_GET_SIZE(chunk.get())),
                  whole_body);
    }
    if (PyErr_Occurred()) {
      const std::string traceback = take_exception_text();
      if (!body_refused()) {
        logging::error_log().error("error handling {} {}:\n{}", request.method,
                                   logging::escape_for_log(request.target), traceback);
      }
      failed = true;
    } else if (!state.called && !body_refused()) {
      logging::error_log().error(
          "error handling {} {}: the app returned without calling start_response", request.method,
          logging::escape_for_log(request.target));
      failed = true;
    }
  }

  // PEP 3333: close() is called whatever happened, client gone included.
  if (PyRef close = close_method(result.get(), close_name_.get())) {
    PyRef closed = PyRef::steal(PyObject_CallNoArgs(close.get()));
    if (!closed) {
      logging::error_log().error("error closing the response of {} {}:\n{}", request.method,
                                 logging::escape_for_log(request.target), take_exception_text());
    }
  }
  detach_start_response(start_response.get());

  if (state.client_gone) {
    sink.abort();
  } else if (failed) {
    if (state.head_sent)
      sink.abort();
    else
      sink.fail(500);
  } else {
    state.send_head();
    GilRelease unlocked;  // finish() may send the response to the socket itself
    sink.finish();
  }
}

}  // namespace hornbeam::python
