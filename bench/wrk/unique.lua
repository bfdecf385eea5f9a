-- wrk script for bench/load.py: every request carries a request-unique id, and done() prints a JSON summary.
--
-- Arguments (after "--"): <body file> <run id> [<method>]. In the body, "{{id}}" becomes a 15-digit id
-- (run 3 digits, thread 3, per-thread counter 9) and "{{id64}}" its base64 (15 bytes: no padding), so the
-- length, and with it Content-Length, stays the same. Headers come from wrk's -H options.

local ID, ID64 = "{{id}}", "{{id64}}"
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local k1, k2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local k3, k4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(k1 + 1, k1 + 1) .. B64:sub(k2 + 1, k2 + 1) .. B64:sub(k3 + 1, k3 + 1) .. B64:sub(k4 + 1, k4 + 1)
  end
  return table.concat(out)
end

-- ---- main state: threads ----
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- ---- each thread's state ----
local segments, kinds = {}, {}
local counter, run_id, method = 0, 0, "POST"
statuses = {}

function init(args)
  local handle = assert(io.open(args[1], "rb"))
  local body = handle:read("*a")
  handle:close()
  run_id = tonumber(args[2]) or 0
  method = args[3] or "POST"
  -- Split the body at the markers once; each request only joins the pieces.
  local pos = 1
  while true do
    local s1, e1 = body:find(ID, pos, true)
    local s2, e2 = body:find(ID64, pos, true)
    local s, e, kind = s1, e1, "id"
    if s2 and (not s1 or s2 < s1) then s, e, kind = s2, e2, "id64" end
    if not s then break end
    segments[#segments + 1] = body:sub(pos, s - 1)
    kinds[#kinds + 1] = kind
    pos = e + 1
  end
  segments[#segments + 1] = body:sub(pos)
end

function request()
  counter = counter + 1
  local id = string.format("%03d%03d%09d", run_id % 1000, tid % 1000, counter)
  local id64 = nil
  local parts = {}
  for i = 1, #kinds do
    parts[#parts + 1] = segments[i]
    if kinds[i] == "id" then
      parts[#parts + 1] = id
    else
      id64 = id64 or base64(id)
      parts[#parts + 1] = id64
    end
  end
  parts[#parts + 1] = segments[#segments]
  return wrk.format(method, nil, nil, table.concat(parts))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

-- ---- main state again, after the run ----
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      counts[code] = (counts[code] or 0) + n
    end
  end
  local codes = {}
  for code, n in pairs(counts) do codes[#codes + 1] = string.format('"%d": %d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %f}}\n',
    summary.requests, summary.duration, table.concat(codes, ", "),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
