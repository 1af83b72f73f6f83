-- wrk script: GET /v1/kv/$BENCH_BUCKET/k<random> (see wrk_common.lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua").install("GET")
