-- wrk script: PUT /v1/kv/$BENCH_BUCKET/k<random> with a $BENCH_VALUE_SIZE-byte body
-- (default 100; see wrk_common.lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk_common.lua").install("PUT")
