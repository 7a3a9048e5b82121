"""The e2e apps wrapped in wsgiref.validate.validator, its warnings made errors: any
PEP 3333 deviation of the server fails the request (500 and a traceback in the log)."""

import warnings
from wsgiref.validate import validator

import echo

warnings.simplefilter("error")

environ_json = validator(echo.environ_json)
echo_body = validator(echo.echo_body)
hello = validator(echo.hello)
stream_until_file = validator(echo.stream_until_file)
uses_write = validator(echo.uses_write)
upload_digest = validator(echo.upload_digest)
input_lines = validator(echo.input_lines)
file_wrapper = validator(echo.file_wrapper)
status_from_path = validator(echo.status_from_path)
