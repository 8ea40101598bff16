-- wrk script for bench/run's working-set row: every request asks for a
-- path drawn at random from the list in $BENCH_PATHS (one path a line).
-- The seed is fixed, so every server gets the same sequence of paths.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
    paths[#paths + 1] = line
end
math.randomseed(14)

request = function()
    return wrk.format("GET", paths[math.random(#paths)])
end
