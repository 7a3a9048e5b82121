"""The hornbeam module under the Erlang Hornbeam's name, so its apps run unchanged."""

from hornbeam import *  # noqa: F401,F403
from hornbeam import __all__  # noqa: F401
