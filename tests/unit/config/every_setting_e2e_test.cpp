// Every setting of the table has an end-to-end test that shows its effect: a setting that is
// accepted and does nothing is worse than a missing one. Adding a setting without naming its
// test here fails; so does naming a test that does not exist (tests/e2e/FILE, `def NAME(`).

#include "config/settings.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace hornbeam::config {
namespace {

// setting key -> "test_file.py::test_function"
const std::map<std::string, std::string>& end_to_end_tests() {
  static const std::map<std::string, std::string> tests = {
      {"app", "test_worker_lifecycle.py::test_missing_callable_names_the_part_not_found"},
      {"worker_class", "test_asgi_http.py::test_scope_has_the_spec_keys_with_the_spec_types"},
      {"bind", "test_listen.py::test_serves_on_a_unix_socket"},
      {"workers", "test_arbiter.py::test_workers_boot_serve_and_stop_with_term"},
      {"contexts", "test_asgi_http.py::test_requests_spread_over_several_contexts"},
      // On a build whose Python has no own GIL, test_settings_effects.py shows the refusal.
      {"context_mode", "test_owngil.py::test_each_context_is_an_interpreter_of_its_own"},
      {"pythonpath", "test_mounts.py::test_flask_and_django_under_a_prefix_make_prefixed_urls"},
      {"chdir", "test_worker_lifecycle.py::test_chdir_is_the_apps_working_directory"},
      {"venv", "test_worker_lifecycle.py::test_venv_site_packages_become_importable"},
      {"timeout",
       "test_arbiter.py::test_a_stuck_request_gets_504_the_traceback_is_logged_and_the_worker_"
       "replaced"},
      {"graceful_timeout",
       "test_worker_lifecycle.py::test_sigterm_after_graceful_timeout_closes_open_iterables"},
      {"keepalive", "test_http.py::test_idle_keep_alive_connection_is_closed_after_keepalive"},
      {"io_spin_us",
       "test_worker_lifecycle.py::test_a_worker_that_polls_before_sleeping_serves_and_stops"},
      {"max_requests",
       "test_arbiter.py::test_max_requests_recycles_a_worker_without_failing_a_request"},
      {"max_requests_jitter",
       "test_settings_effects.py::test_max_requests_jitter_gives_each_worker_its_own_limit"},
      {"max_worker_memory",
       "test_recycling.py::test_a_leaking_worker_is_replaced_past_max_worker_memory"},
      {"max_worker_lifetime",
       "test_recycling.py::test_lifetime_recycles_workers_one_at_a_time_without_a_failed_request"},
      {"max_worker_lifetime_jitter",
       "test_recycling.py::test_lifetime_jitter_gives_each_worker_its_own_lifetime"},
      {"reload", "test_reload.py::test_a_changed_module_is_served_by_the_new_code"},
      {"reload_paths", "test_reload.py::test_reload_paths_and_new_subdirectories_are_watched"},
      {"reload_include", "test_reload.py::test_include_and_exclude_patterns_choose_the_files"},
      {"reload_exclude", "test_reload.py::test_include_and_exclude_patterns_choose_the_files"},
      {"reload_debounce", "test_reload.py::test_a_burst_of_writes_reloads_once"},
      {"tls.certfile", "test_tls.py::test_https_and_plain_binds_side_by_side"},
      {"tls.keyfile", "test_tls.py::test_https_and_plain_binds_side_by_side"},
      {"tls.password_file", "test_tls.py::test_an_encrypted_key_is_read_with_its_password_file"},
      {"tls.min_version", "test_tls.py::test_min_version_1_3_refuses_a_tls_1_2_client"},
      {"tls.ciphers", "test_tls.py::test_ciphers_choose_what_tls_1_2_clients_get"},
      {"tls.handshake_timeout",
       "test_tls.py::test_a_client_that_never_finishes_its_handshake_is_dropped_and_counted"},
      {"tls.ca_certs", "test_tls.py::test_client_certificates_required_accepted_and_refused"},
      {"tls.verify_client", "test_tls.py::test_client_certificates_required_accepted_and_refused"},
      {"http2.enabled", "test_http2.py::test_http2_enabled_false_serves_http11_only"},
      {"http2.h2c_upgrade", "test_http2.py::test_h2c_upgrade_only_when_enabled"},
      {"http2.max_concurrent_streams", "test_http2.py::test_rapid_reset_is_cut_off"},
      {"http2.initial_window_size",
       "test_http2.py::test_an_upload_goes_only_as_far_as_the_app_has_read"},
      {"http2.max_header_list_size",
       "test_http2.py::test_max_header_list_size_is_announced_and_held"},
      {"http2.stall_timeout", "test_http2.py::test_a_zero_window_stall_ends_with_goaway"},
      {"lifespan", "test_asgi_http.py::test_lifespan_off_never_calls_the_app_with_lifespan"},
      {"mounts",
       "test_mounts.py::test_wsgi_mounts_route_by_the_longest_prefix_on_segment_boundaries"},
      {"loop", "test_asgi_http.py::test_the_loop_is_chosen_by_the_loop_setting"},
      {"forwarded_allow_ips", "test_proxy_headers.py::test_trusted_ranges_and_rfc7239_forwarded"},
      {"proxy_protocol", "test_proxy_headers.py::test_proxy_protocol_v2"},
      {"proxy_allow_ips",
       "test_proxy_headers.py::test_proxy_protocol_refusals_close_with_a_log_line"},
      {"user", "test_arbiter.py::test_workers_run_as_the_configured_user"},
      {"group", "test_settings_effects.py::test_group_switches_the_workers_group"},
      {"umask", "test_arbiter.py::test_unix_socket_with_umask"},
      {"pidfile", "test_arbiter.py::test_workers_boot_serve_and_stop_with_term"},
      {"reuse_port", "test_arbiter.py::test_reuse_port_gives_each_worker_its_own_socket"},
      {"backlog", "test_settings_effects.py::test_backlog_is_the_listen_queue_length"},
      {"metrics_bind", "test_metrics.py::test_metrics_count_requests_and_pass_promtool"},
      {"control_socket", "test_control.py::test_status_shows_each_worker_and_its_running_request"},
      {"shutdown_delay",
       "test_metrics.py::test_shutdown_delay_fails_readiness_at_once_and_keeps_serving"},
      {"limits.max_request_line", "test_http.py::test_request_line_too_long_is_414"},
      {"limits.max_header_size", "test_http.py::test_header_field_too_large_is_431"},
      {"limits.max_headers", "test_http.py::test_too_many_header_fields_is_431"},
      {"limits.max_body_size", "test_http.py::test_body_over_max_body_size_is_413"},
      {"limits.body_buffer_threshold",
       "test_settings_effects.py::test_body_buffer_threshold_decides_what_arrives_whole"},
      {"limits.header_timeout", "test_http.py::test_slow_request_head_is_cut_after_header_timeout"},
      {"limits.body_timeout",
       "test_request_body.py::test_a_body_the_client_stops_sending_gets_408"},
      {"limits.send_timeout",
       "test_slow_clients.py::test_a_client_that_stops_reading_is_cut_after_send_timeout"},
      {"hooks.on_request", "test_hooks.py::test_on_request_answers_instead_of_the_app"},
      {"hooks.on_response", "test_hooks.py::test_on_response_adds_headers"},
      {"hooks.on_error", "test_hooks.py::test_on_error_answers_for_an_app_that_raised"},
      {"hooks.post_worker_init", "test_hooks.py::test_post_worker_init_and_worker_exit_alone"},
      {"hooks.worker_exit", "test_hooks.py::test_post_worker_init_and_worker_exit_alone"},
      {"hooks.worker_abort",
       "test_hooks.py::test_lifecycle_hooks_under_the_arbiter_and_worker_abort_on_a_stuck_request"},
      {"websocket.max_message_size",
       "test_asgi_websocket.py::test_a_message_over_max_message_size_closes_with_1009"},
      {"websocket.ping_interval",
       "test_asgi_websocket.py::test_the_server_pings_and_closes_a_peer_that_stops_answering"},
      {"websocket.idle_timeout",
       "test_asgi_websocket.py::test_the_server_pings_and_closes_a_peer_that_stops_answering"},
      {"websocket.compress",
       "test_asgi_websocket.py::test_permessage_deflate_is_negotiated_only_when_enabled"},
      {"shared_state.size",
       "test_shared_state.py::test_a_full_store_raises_state_full_with_figures_and_changes_"
       "nothing"},
      {"shared_state.backend",
       "test_shared_state_redis.py::test_keys_under_the_prefix_are_what_any_redis_client_reads_"
       "and_writes"},
      {"shared_state.prefix",
       "test_shared_state_redis.py::test_keys_under_the_prefix_are_what_any_redis_client_reads_"
       "and_writes"},
      {"shared_state.tls_ca_certs",
       "test_shared_state_redis.py::test_rediss_checks_the_servers_certificate"},
      {"shared_state.timeout",
       "test_shared_state_redis.py::test_a_frozen_redis_raises_state_unavailable_within_the_"
       "timeout_and_blocks_nothing_else"},
      {"logging.level",
       "test_asgi_http.py::test_header_fields_with_underscores_are_dropped_as_on_the_wsgi_side"},
      {"logging.format", "test_log_safety.py::test_json_lines_stay_json_for_hostile_requests"},
      {"logging.access_log",
       "test_access_log.py::test_default_format_is_common_log_with_response_time"},
      {"logging.error_log", "test_log_safety.py::test_an_error_line_escapes_the_request_bytes"},
      {"logging.access_log_format", "test_access_log.py::test_custom_format_with_header_atoms"},
  };
  return tests;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(EverySetting, HasAnEndToEndTest) {
  for (const auto& setting : settings()) {
    const std::string key(setting.key);
    const auto found = end_to_end_tests().find(key);
    ASSERT_NE(found, end_to_end_tests().end())
        << "`" << key << "` has no end-to-end test that shows its effect: write one and name it "
        << "here (tests/unit/config/every_setting_e2e_test.cpp)";
  }
}

TEST(EverySetting, NamesEndToEndTestsThatExist) {
  for (const auto& [key, test] : end_to_end_tests()) {
    const auto separator = test.find("::");
    ASSERT_NE(separator, std::string::npos) << test;
    const std::string file =
        std::string(HORNBEAM_SOURCE_DIR) + "/tests/e2e/" + test.substr(0, separator);
    const std::string source = read_file(file);
    ASSERT_FALSE(source.empty()) << key << ": no file " << file;
    EXPECT_NE(source.find("def " + test.substr(separator + 2) + "("), std::string::npos)
        << key << ": no test " << test;
  }
}

}  // namespace
}  // namespace hornbeam::config
