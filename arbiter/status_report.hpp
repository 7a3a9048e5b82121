#pragma once

// What `hornbeamctl status` shows: the arbiter and each of its workers, from the supervisor's
// records and the workers' slots, as a JSON object. Built on the arbiter's loop.

#include "arbiter/supervisor.hpp"

#include <nlohmann/json_fwd.hpp>

namespace hornbeam::arbiter {

nlohmann::json status_report(const Supervisor& supervisor, const shm::Segment& segment,
                             TimePoint now, TimePoint arbiter_started);

}  // namespace hornbeam::arbiter
