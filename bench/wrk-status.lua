-- wrk script for benchmark 3: GET /v1/ebooks/{id}/status over BENCH_IDS (comma
-- separated) with BENCH_TOKEN, each connection pausing BENCH_DELAY_MS between
-- requests so that connections / delay gives the target rate (50 / 50 ms = 1,000 req/s).
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "none", "[^,]+") do ids[#ids + 1] = id end
local token = os.getenv("BENCH_TOKEN") or ""
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "50")
local n = 0

function request()
  n = n + 1
  local id = ids[(n % #ids) + 1]
  return wrk.format("GET", "/v1/ebooks/" .. id .. "/status", { ["Authorization"] = "Bearer " .. token })
end

function delay()
  return pause
end

function done(summary, latency, requests)
  io.write(string.format("RESULT p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f requests=%d duration_s=%.2f rate=%.1f non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
