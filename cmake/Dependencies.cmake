# Debian 12 packages only. Pin Boost 1.81 (1.74 may be installed too) and Debian's CPython
# (pyenv's shims come first on PATH and would otherwise win; see ../shared/TOOLCHAIN.md).
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS program_options)
find_package(yaml-cpp REQUIRED)        # 0.7: the target is `yaml-cpp`
find_package(nlohmann_json 3.11 REQUIRED)
find_package(spdlog REQUIRED)          # always the compiled spdlog::spdlog (header-only is slow)
find_package(Threads REQUIRED)

set(Python3_ROOT_DIR /usr)
set(Python3_FIND_STRATEGY LOCATION)
set(Python3_FIND_UNVERSIONED_NAMES NEVER)
find_package(Python3 3.11 REQUIRED COMPONENTS Interpreter Development.Embed)
