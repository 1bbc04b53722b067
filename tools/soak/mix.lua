-- wrk script for make soak (tools/soak/soak.py): sends, in turn, the
-- requests of the file named by the first script argument (a Lua chunk
-- returning {{kind=, status=, raw=}, ...}: raw is the whole HTTP request),
-- and checks each answer's status against the one its kind expects.
-- Every thread has ONE connection (wrk -tN -cN), which sends a request
-- only after the previous answer: the answers come back in the order of
-- the requests, so a FIFO pairs each answer with its kind. After a socket
-- error (reported by wrk, and a failure of the soak) that pairing may be
-- off by one for the rest of that thread. wrk calls request() once more in
-- the first thread's state before the run, to check the script
-- (script_verify_request), and never sends that request: it is not queued.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

local reqs, n, i, verify = nil, 0, 0, false
local fifo, head, tail = {}, 1, 0
sent = {}   -- kind -> requests sent (read by done() through thread:get)
bad = {}    -- "kind status" -> unexpected answers

function init(args)
   reqs = dofile(args[1])
   n = #reqs
   -- threads start at different kinds
   i = ((id or 1) * 7) % n
   verify = id == 1
end

function request()
   if verify then
      verify = false
      return reqs[1].raw
   end
   i = i % n + 1
   tail = tail + 1
   fifo[tail] = i
   local r = reqs[i]
   sent[r.kind] = (sent[r.kind] or 0) + 1
   return r.raw
end

function response(status, headers, body)
   local k = fifo[head]
   fifo[head] = nil
   head = head + 1
   if k == nil then
      bad["? " .. status] = (bad["? " .. status] or 0) + 1
      return
   end
   local r = reqs[k]
   if status ~= r.status then
      local key = r.kind .. " " .. status
      bad[key] = (bad[key] or 0) + 1
   end
end

function done(summary, latency, requests)
   local total_sent, total_bad = {}, {}
   for _, t in ipairs(threads) do
      for kind, c in pairs(t:get("sent") or {}) do
         total_sent[kind] = (total_sent[kind] or 0) + c
      end
      for key, c in pairs(t:get("bad") or {}) do
         total_bad[key] = (total_bad[key] or 0) + c
      end
   end
   for kind, c in pairs(total_sent) do
      io.write(string.format("SOAK-SENT %s %d\n", kind, c))
   end
   for key, c in pairs(total_bad) do
      io.write(string.format("SOAK-BAD %s %d\n", key, c))
   end
   io.write(string.format("SOAK-LATENCY %d %d %d\n", latency:percentile(50),
                          latency:percentile(99), latency.max))
end
