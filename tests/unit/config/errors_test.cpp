// Every validation error path: the message names the key, where it came from (file, line and
// column; variable; flag), what was expected and what was found.

#include "config_test_support.hpp"

namespace hornbeam::config {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using testing::load_from;
using testing::problems_of;

// The single problem of a load, with the temporary file's path cut off.
std::string only_problem(const std::string& yaml, const Environment& env = {},
                         const std::vector<std::string>& args = {}) {
  const auto problems = problems_of(yaml, env, args);
  EXPECT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
  if (problems.empty()) return {};
  const std::string& text = problems.front();
  const auto yaml_name = text.find("hornbeam.yaml:");
  return yaml_name == std::string::npos ? text : text.substr(yaml_name);
}

TEST(ConfigErrors, UnknownKeySuggestsTheClosestOne) {
  EXPECT_EQ(only_problem("app: a:b\nwokers: 4\n"),
            "hornbeam.yaml:2:1: unknown key `wokers` (did you mean `workers`?)");
}

TEST(ConfigErrors, UnknownNestedKeySuggestsWithinItsSection) {
  EXPECT_EQ(only_problem("app: a:b\nlimits:\n  max_body_siz: 1\n"),
            "hornbeam.yaml:3:3: unknown key `limits.max_body_siz` (did you mean `max_body_size`?)");
}

TEST(ConfigErrors, SectionKeyAtTopLevelPointsToTheSection) {
  EXPECT_EQ(
      only_problem("app: a:b\nmax_body_size: 1\n"),
      "hornbeam.yaml:2:1: unknown key `max_body_size` (did you mean `limits.max_body_size`?)");
}

TEST(ConfigErrors, UnknownKeyFarFromAnythingHasNoSuggestion) {
  EXPECT_EQ(only_problem("app: a:b\nzzzzzzzz: 1\n"), "hornbeam.yaml:2:1: unknown key `zzzzzzzz`");
}

TEST(ConfigErrors, WrongTypeNamesExpectedAndFound) {
  EXPECT_EQ(only_problem("app: a:b\nworkers: four\n"),
            "hornbeam.yaml:2:10: `workers`: expected an integer from 1 to 4096, found `four`");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(only_problem("app: a:b\nworkers: 0\n"),
            "hornbeam.yaml:2:10: `workers`: expected an integer from 1 to 4096, found `0`");
  EXPECT_EQ(only_problem("app: a:b\nlimits:\n  body_buffer_threshold: 2GiB\n"),
            "hornbeam.yaml:3:26: `limits.body_buffer_threshold`: expected a size such as `64MiB`, "
            "`512K` or `1048576`, from 1KiB to 1GiB, found `2GiB`");
}

TEST(ConfigErrors, BadSizeAndDuration) {
  EXPECT_THAT(only_problem("app: a:b\nshared_state:\n  size: 12 parsecs\n"),
              AllOf(HasSubstr("hornbeam.yaml:3:9: `shared_state.size`: expected a size"),
                    EndsWith("found `12 parsecs`")));
  EXPECT_THAT(only_problem("app: a:b\ntimeout: soon\n"),
              AllOf(HasSubstr("hornbeam.yaml:2:10: `timeout`: expected a duration"),
                    EndsWith("found `soon`")));
}

TEST(ConfigErrors, BadChoiceListsTheChoices) {
  EXPECT_EQ(only_problem("app: a:b\nworker_class: fast\n"),
            "hornbeam.yaml:2:15: `worker_class`: expected one of `wsgi`, `asgi`, found `fast`");
}

TEST(ConfigErrors, GunicornsWorkerClassesNameOurs) {
  EXPECT_EQ(only_problem("app: a:b\nworker_class: gthread\n"),
            "hornbeam.yaml:2:15: `worker_class`: expected one of `wsgi`, `asgi` (Gunicorn's "
            "`gthread` is `wsgi` here; threads are `contexts`), found `gthread`");
  EXPECT_EQ(only_problem("app: a:b\nworker_class: uvicorn.workers.UvicornWorker\n"),
            "hornbeam.yaml:2:15: `worker_class`: expected one of `wsgi`, `asgi` (Uvicorn's "
            "worker is `asgi` here), found `uvicorn.workers.UvicornWorker`");
  // Another setting's choices get no such hint.
  EXPECT_EQ(
      only_problem("app: a:b\nloop: uvicorn\n"),
      "hornbeam.yaml:2:7: `loop`: expected one of `auto`, `asyncio`, `uvloop`, found `uvicorn`");
}

TEST(ConfigErrors, BadBoolean) {
  EXPECT_EQ(only_problem("app: a:b\nreuse_port: maybe\n"),
            "hornbeam.yaml:2:13: `reuse_port`: expected `true` or `false`, found `maybe`");
}

TEST(ConfigErrors, ListWhereAValueIsExpected) {
  EXPECT_EQ(only_problem("app: a:b\nworkers: [1, 2]\n"),
            "hornbeam.yaml:2:10: `workers`: expected an integer from 1 to 4096, found a list");
}

TEST(ConfigErrors, BadItemInAListPointsAtTheItem) {
  EXPECT_EQ(only_problem("app: a:b\nbind:\n  - 127.0.0.1:80\n  - nowhere\n"),
            "hornbeam.yaml:4:5: `bind`: expected an address as `host:port`, `[ipv6]:port`, "
            "`unix:/path` or `fd://N`, with `https://` before a TCP or unix address for TLS, "
            "found `nowhere`");
}

TEST(ConfigErrors, HttpsBindsNeedACertificate) {
  EXPECT_EQ(only_problem("app: a:b\nbind: ['https://127.0.0.1:8443']\n"),
            "hornbeam.yaml:2:7: `bind`: `https://` binds need `tls.certfile` (and `tls.keyfile` "
            "unless the key is in that file)");
}

TEST(ConfigErrors, ACertificateThatDoesNotLoadNamesItsSetting) {
  const testing::TempYaml not_pem("not a certificate\n", "cert.pem");
  const auto problem = only_problem(
      "app: a:b\nbind: ['https://127.0.0.1:8443']\ntls:\n  certfile: " + not_pem.path() + "\n");
  EXPECT_THAT(problem, ::testing::StartsWith("hornbeam.yaml:4:13: `tls.certfile`: cannot load a "
                                             "PEM certificate from `" +
                                             not_pem.path() + "`: "));
}

TEST(ConfigErrors, SectionThatIsNotAMapping) {
  EXPECT_EQ(only_problem("app: a:b\nlimits: 5\n"),
            "hornbeam.yaml:2:9: `limits`: expected a mapping of limits.* settings");
}

TEST(ConfigErrors, DuplicateKey) {
  EXPECT_EQ(only_problem("app: a:b\nworkers: 1\nworkers: 2\n"),
            "hornbeam.yaml:3:1: `workers` is set twice in this mapping");
}

TEST(ConfigErrors, InvalidYamlSyntax) {
  EXPECT_THAT(only_problem("app: a:b\nworkers: [1\n"),
              HasSubstr("hornbeam.yaml:3:1: invalid YAML"));
}

TEST(ConfigErrors, TopLevelMustBeAMapping) {
  EXPECT_EQ(only_problem("- a\n- b\n"),
            "hornbeam.yaml:1:1: expected a mapping of settings (`key: value` lines)");
}

TEST(ConfigErrors, MissingFile) {
  Sources sources;
  sources.config_file = "/nonexistent/hornbeam.yaml";
  try {
    load(sources);
    FAIL() << "a missing file must be refused";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.problems(),
                ElementsAre("/nonexistent/hornbeam.yaml: cannot read the config file: "
                            "No such file or directory"));
  }
}

TEST(ConfigErrors, BadAppSpec) {
  EXPECT_EQ(only_problem("app: 'not an app'\n"),
            "hornbeam.yaml:1:6: `app`: expected an app as `module:callable` (e.g. "
            "`myproject.wsgi:application`) or `module:factory(ARGS)`, found `not an app`");
}

TEST(ConfigErrors, MissingAppSaysHowToGiveOne) {
  EXPECT_EQ(only_problem("workers: 1\n"),
            "no app given: name it as `module:callable` on the command line (`hornbeam-arbiter "
            "myproject.wsgi:application`), as `app:` in the config file, or in HORNBEAM_APP "
            "(or serve apps under `mounts`)");
}

TEST(ConfigErrors, AnAddressBoundTwice) {
  EXPECT_EQ(only_problem("app: a:b\nbind: [127.0.0.1:8000, 'http://127.0.0.1:8000']\n"),
            "hornbeam.yaml:2:7: `bind`: 127.0.0.1:8000 is given twice");
  // Port 0 twice: two ports the kernel picks.
  EXPECT_NO_THROW(load_from("app: a:b\nbind: [127.0.0.1:0, '[::1]:0', 'http://127.0.0.1:0']\n"));
}

TEST(ConfigErrors, MountsThatCollide) {
  EXPECT_EQ(
      only_problem("mounts:\n  - {prefix: /api, app: 'x:y'}\n  - {prefix: /api, app: 'z:w'}\n"),
      "hornbeam.yaml:2:3: `mounts`: two mounts at `/api`");
  EXPECT_EQ(
      only_problem("app: a:b\nmounts:\n  - {prefix: /, app: 'x:y'}\n"),
      "hornbeam.yaml:3:3: `mounts`: a mount at `/` and `app` both serve `/` (`a:b` is the `/` "
      "mount when no mount is at `/`)");
  EXPECT_EQ(only_problem("mounts:\n  - {prefix: /api, app: 'x:y', max_body_size: lots}\n"),
            "hornbeam.yaml:2:47: `mounts`: mount `max_body_size`: expected a size such as `64MiB`, "
            "`512K` or `1048576`, found `lots`");
  EXPECT_EQ(only_problem("mounts:\n  - {prefix: /api, app: 'x:y', timeout: 2d}\n"),
            "hornbeam.yaml:2:41: `mounts`: mount `timeout`: expected a duration such as `30`, "
            "`30s` or `500ms`, from 0s (none) to 24h, found `2d`");
  EXPECT_EQ(
      only_problem("worker_class: asgi\nmounts:\n  - {prefix: /api, app: 'x:y', timeout: 5}\n"),
      "hornbeam.yaml:3:3: `mounts`: the mount at `/api` is ASGI: `timeout` is for WSGI mounts (an "
      "ASGI app's requests share the event loop, which the top-level `timeout` watches; bound a "
      "coroutine with `asyncio.timeout`)");
}

TEST(ConfigErrors, MountProblems) {
  EXPECT_EQ(only_problem("app: a:b\nmounts:\n  - {prefx: /api, app: 'x:y'}\n"),
            "hornbeam.yaml:3:6: `mounts`: unknown key `prefx` in a mount (did you mean `prefix`?)");
  EXPECT_EQ(only_problem("app: a:b\nmounts:\n  - {app: 'x:y'}\n"),
            "hornbeam.yaml:3:5: `mounts`: a mount needs a `prefix` (e.g. `prefix: /api`)");
  EXPECT_EQ(
      only_problem("app: a:b\nmounts:\n  - {prefix: api/, app: 'x:y'}\n"),
      "hornbeam.yaml:3:14: `mounts`: mount `prefix`: expected a path prefix that starts with `/` "
      "and does not end with `/` (e.g. `/api`), found `api/`");
  EXPECT_EQ(only_problem("app: a:b\nmounts:\n  - {prefix: /x, app: 'x:y', worker_class: rsgi}\n"),
            "hornbeam.yaml:3:44: `mounts`: mount `worker_class`: expected one of `wsgi`, `asgi`, "
            "found `rsgi`");
}

TEST(ConfigErrors, UnknownEnvironmentVariable) {
  EXPECT_EQ(only_problem("", {{"HORNBEAM_WOKERS", "3"}}, {"a:b"}),
            "environment: unknown variable HORNBEAM_WOKERS (did you mean `HORNBEAM_WORKERS`?)");
}

TEST(ConfigErrors, BadEnvironmentValue) {
  EXPECT_EQ(only_problem("", {{"HORNBEAM_WORKERS", "lots"}}, {"a:b"}),
            "environment HORNBEAM_WORKERS: expected an integer from 1 to 4096, found `lots`");
}

TEST(ConfigErrors, BadCommandLineValue) {
  EXPECT_EQ(only_problem("", {}, {"--keepalive", "-1", "a:b"}),
            "option --keepalive: expected a duration such as `30`, `30s` or `500ms`, from 0s to "
            "24h, found `-1`");
}

TEST(ConfigErrors, UnknownCommandLineOption) {
  try {
    load_from("", {}, {"--wokers", "3"});
    FAIL() << "an unknown option must be refused";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.problems(), ElementsAre("unknown option --wokers (did you mean --workers?)"));
  }
}

TEST(ConfigErrors, MissingDirectoriesAreNamedWithTheirOrigin) {
  EXPECT_EQ(only_problem("app: a:b\nchdir: /nonexistent/dir\n"),
            "hornbeam.yaml:2:8: `chdir`: no such directory `/nonexistent/dir`");
  EXPECT_EQ(only_problem("", {{"HORNBEAM_VENV", "/nonexistent/venv"}}, {"a:b"}),
            "environment HORNBEAM_VENV: `venv`: no such directory `/nonexistent/venv`");
}

TEST(ConfigErrors, UnknownUserAndGroup) {
  EXPECT_EQ(only_problem("", {}, {"--user", "no-such-user-hb", "a:b"}),
            "option --user: `user`: no such user `no-such-user-hb`");
  EXPECT_EQ(only_problem("", {}, {"--group", "no-such-group-hb", "a:b"}),
            "option --group: `group`: no such group `no-such-group-hb`");
}

TEST(ConfigErrors, OwnGilNeedsPython312) {
  if (HORNBEAM_PYTHON_HAS_OWN_GIL) {
    EXPECT_EQ(load_from("app: a:b\ncontext_mode: owngil\n").context_mode, "owngil");
  } else {
    EXPECT_THAT(
        only_problem("app: a:b\ncontext_mode: owngil\n"),
        HasSubstr("hornbeam.yaml:2:15: `context_mode`: `owngil` needs Python 3.12 or newer; "
                  "this build embeds Python " HORNBEAM_PYTHON_VERSION));
  }
}

TEST(ConfigErrors, EveryProblemIsReportedAtOnce) {
  EXPECT_EQ(problems_of("app: a:b\nwokers: 4\ntimeout: soon\n", {{"HORNBEAM_BACKLOG", "0"}}).size(),
            3u);
}

}  // namespace
}  // namespace hornbeam::config
