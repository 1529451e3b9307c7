-- bench:cluster's wrk script. wrk connects every thread to the address of its one URL; this sends thread k to
-- the (k mod n)-th address of WRK_TARGETS ("127.0.0.1:PORT 127.0.0.1:PORT ..."), so one wrk run spreads its
-- connections evenly over n servers (threads a multiple of n) and reports one latency distribution.
local targets = {}
for hostport in string.gmatch(os.getenv("WRK_TARGETS") or "", "%S+") do
  local host, port = string.match(hostport, "^(.+):(%d+)$")
  targets[#targets + 1] = wrk.lookup(host, port)[1]
end

local threads = 0
function setup(thread)
  if #targets > 0 then thread.addr = targets[threads % #targets + 1] end
  threads = threads + 1
end
