-- wrk script: POST a 1 MiB body to /echo.
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = string.rep("p", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
