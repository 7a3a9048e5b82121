#pragma once

// Exit statuses of both binaries (Gunicorn's numbers where it has them). Documented in
// docs/operations.md; the arbiter reads a worker's to tell a crash from a boot failure.

namespace hornbeam::exit_code {

inline constexpr int ok = 0;
inline constexpr int config_error = 2;  // invalid config or command line; nothing started
inline constexpr int boot_failure = 3;  // the arbiter gave up: workers kept failing to boot; for a
                                        // worker, its ASGI lifespan startup failed
inline constexpr int app_load_error = 4;  // a worker could not import the app

}  // namespace hornbeam::exit_code
