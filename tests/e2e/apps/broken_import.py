"""An app module that fails to import: the worker must log this traceback and exit 4."""

import module_that_does_not_exist_hornbeam  # noqa: F401

application = None
