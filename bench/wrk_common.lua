-- Shared part of the wrk scripts for the jetgate KV benchmark (get.lua, put.lua).
--
-- Environment:
--   BENCH_BUCKET      bucket name (default "bench")
--   BENCH_KEYS        keys k0..k(N-1) are hit at random (default 1000)
--   BENCH_VALUE_SIZE  PUT body size in bytes (default 100)
--
-- done() prints one line "WRK_RESULT {json}" with the request count, rate,
-- latency percentiles and every kind of error wrk saw, including responses
-- whose status is not 2xx (wrk's own summary only counts status >= 400).

local M = {}

local bucket = os.getenv("BENCH_BUCKET") or "bench"
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "1000")
local value_size = tonumber(os.getenv("BENCH_VALUE_SIZE") or "100")

local threads = {}

-- Runs in the main Lua state once per wrk thread.
function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

-- Builds every request string once per thread, so request() is a table look-up.
function M.init_requests(method)
   local body = nil
   local headers = {}
   if method == "PUT" then
      body = string.rep("v", value_size)
      headers["Content-Type"] = "application/octet-stream"
   end
   local reqs = {}
   for i = 0, nkeys - 1 do
      reqs[i + 1] = wrk.format(method, "/v1/kv/" .. bucket .. "/k" .. i, headers, body)
   end
   return reqs
end

local reqs
function M.install(method)
   function init(args)
      -- tid is set by setup() before init() runs in this thread's state
      math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
      reqs = M.init_requests(method)
      non2xx = 0
      first_bad_status = 0
   end

   function request()
      return reqs[math.random(nkeys)]
   end

   function response(status, headers, body)
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
         if first_bad_status == 0 then
            first_bad_status = status
         end
      end
   end

   function done(summary, latency, requests)
      local bad, first_bad = 0, 0
      for _, t in ipairs(threads) do
         bad = bad + (t:get("non2xx") or 0)
         local fb = t:get("first_bad_status") or 0
         if first_bad == 0 and fb ~= 0 then
            first_bad = fb
         end
      end
      local e = summary.errors
      local seconds = summary.duration / 1e6
      local rate = 0
      if seconds > 0 then
         rate = summary.requests / seconds
      end
      io.write(string.format(
         'WRK_RESULT {"method":"%s","bucket":"%s","requests":%d,"seconds":%.3f,"rate":%.1f,' ..
         '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f,' ..
         '"non2xx":%d,"first_bad_status":%d,' ..
         '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d}\n',
         method, bucket, summary.requests, seconds, rate,
         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
         latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
         bad, first_bad, e.connect, e.read, e.write, e.timeout, e.status))
   end
end

return M
