-- The public readers of bench/api.py, for wrk: each request picks one of the URL
-- templates (one a line in the first file) and one published release's number (one a
-- line in the second) at random, as the Python readers do. The last line wrk prints is
-- one JSON object with the figures bench/api.py reads.
--
--     wrk -c 45 -d 60s -s bench/public_pages.lua URL -- templates.txt numbers.txt seed

local templates, numbers = {}, {}

local function read_lines(path, into)
  for line in io.lines(path) do
    if line ~= "" then
      into[#into + 1] = line
    end
  end
end

function init(args)
  read_lines(args[1], templates)
  read_lines(args[2], numbers)
  math.randomseed(tonumber(args[3] or "1"))
end

function request()
  local template = templates[math.random(#templates)]
  local path = template:gsub("{number}", numbers[math.random(#numbers)])
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    e.connect, e.read, e.write, e.status, e.timeout
  ))
end
