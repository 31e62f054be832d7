using System.CommandLine;
using System.Globalization;
using ZmqAspire.Benchmarks;

// ZmqAspire benchmark: raw TCP, NetMQ direct, NetMQ through OpenSSH's ssh -L and through our
// SSH.NET tunnel, against one local sshd, in one invocation. See docs/benchmarks.md.
if (args.Length > 0 && args[0] == "serve")
{
    // The server process (started by the benchmark itself).
    return ServerMain.Run(args.Length > 1 ? args[1] : "127.0.0.1");
}

var smoke = new Option<bool>("--smoke")
{
    Description = "A few seconds: tiny counts, one repeat, the four required modes; fails unless every mode produced numbers.",
};
var output = new Option<string>("--out")
{
    Description = "Where to write the JSON results (a .md with the tables is written beside it).",
    DefaultValueFactory = _ => Path.Combine("artifacts", "bench", "results.json"),
};
var sizes = new Option<string>("--sizes")
{
    Description = "Message sizes, comma-separated; K and M suffixes are KiB and MiB (1 B to 16M).",
    DefaultValueFactory = _ => "64,1K,64K,1M",
};
var iterations = new Option<int?>("--iterations")
{
    Description = "Round trips per latency run for small messages (scaled down for large ones); a throughput run warms up with twice as many, then runs for --seconds. Default 10000, smoke 40.",
};
var seconds = new Option<double?>("--seconds")
{
    Description = "Seconds of traffic per throughput run (its count is sized from its warm-up's rate). Default 1.5, smoke 0.2.",
};
var repeat = new Option<int?>("--repeat")
{
    Description = "Runs of every measurement, interleaved across modes; the tables show medians. Default 3, smoke 1.",
};
var clients = new Option<string>("--clients")
{
    Description = "Concurrent client counts over one SSH session.",
    DefaultValueFactory = _ => "1,2,4",
};
var concurrencySizes = new Option<string?>("--concurrency-sizes")
{
    Description = "Message sizes for the concurrent-clients runs. Default 64,64K; smoke 64.",
};
var forwards = new Option<int?>("--forwards")
{
    Description = "Forwards opened for the memory-per-forward figure. Default 50, smoke 5.",
};
var phases = new Option<string>("--phases")
{
    Description = "Phases to run, comma-separated, from: latency, throughput, concurrency, memory.",
    DefaultValueFactory = _ => "latency,throughput,concurrency,memory",
};
var modes = new Option<string?>("--modes")
{
    Description = "Modes to run, comma-separated, from: " + string.Join(", ", Mode.All.Select(m => m.Id))
        + ". Default: " + string.Join(",", Mode.DefaultIds) + " (smoke: " + string.Join(",", Mode.SmokeIds) + ").",
};

var netns = new Option<bool>("--netns")
{
    Description = "Run sshd and the servers in a network namespace of their own, reached over a veth pair (root; iproute2).",
};
var wanRtt = new Option<int?>("--wan-rtt")
{
    Description = "WAN mode: --netns, with a user-space delay line adding this round trip (milliseconds, half each way) in front of sshd and of the servers.",
};

var root = new RootCommand("ZmqAspire tunnel benchmark: latency, throughput, concurrency and memory against NetMQ direct and OpenSSH ssh -L, on 127.0.0.1.")
{
    smoke, output, sizes, iterations, seconds, repeat, clients, concurrencySizes, forwards, phases, modes, netns, wanRtt,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var isSmoke = parse.GetValue(smoke);
    var selected = (parse.GetValue(modes) ?? string.Join(',', isSmoke ? Mode.SmokeIds : Mode.DefaultIds))
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    var unknown = selected.Where(id => Mode.All.All(m => m.Id != id)).ToList();
    if (unknown.Count > 0)
    {
        await Console.Error.WriteLineAsync($"unknown mode(s): {string.Join(", ", unknown)}").ConfigureAwait(false);
        return 2;
    }

    string[] knownPhases = ["latency", "throughput", "concurrency", "memory"];
    var badPhases = parse.GetValue(phases)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Where(p => !knownPhases.Contains(p)).ToList();
    if (badPhases.Count > 0)
    {
        await Console.Error.WriteLineAsync($"unknown phase(s): {string.Join(", ", badPhases)}").ConfigureAwait(false);
        return 2;
    }

    if (!selected.Contains("netmq"))
    {
        selected = ["netmq", .. selected]; // every ratio is to NetMQ direct
    }

    int[] messageSizes;
    try
    {
        messageSizes = ParseSizes(parse.GetValue(sizes)!);
    }
    catch (Exception ex) when (ex is FormatException or OverflowException)
    {
        await Console.Error.WriteLineAsync($"--sizes: {ex.Message}").ConfigureAwait(false);
        return 2;
    }

    var settings = new RunSettings(
        isSmoke,
        messageSizes,
        parse.GetValue(iterations) ?? (isSmoke ? 40 : 10_000),
        parse.GetValue(repeat) ?? (isSmoke ? 1 : 3),
        [.. parse.GetValue(clients)!.Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))],
        ParseSizes(parse.GetValue(concurrencySizes) ?? (isSmoke ? "64" : "64,64K")),
        parse.GetValue(forwards) ?? (isSmoke ? 5 : 50),
        [.. Mode.All.Where(m => selected.Contains(m.Id)).Select(m => m.Id)],
        [.. parse.GetValue(phases)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
        parse.GetValue(seconds) ?? (isSmoke ? 0.2 : 1.5),
        parse.GetValue(netns) || parse.GetValue(wanRtt) is not null,
        parse.GetValue(wanRtt) ?? 0);
    if (settings.WanRttMs is < 0 or > 10_000)
    {
        await Console.Error.WriteLineAsync("--wan-rtt: from 0 to 10000 ms").ConfigureAwait(false);
        return 2;
    }

    var runner = new BenchRunner(settings, parse.GetValue(output)!);
    return await runner.RunAsync(cancellationToken).ConfigureAwait(false);
});

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);

static int[] ParseSizes(string text) =>
[
    .. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
    {
        var multiplier = 1;
        if (s.EndsWith('K') || s.EndsWith('k'))
        {
            multiplier = 1024;
            s = s[..^1];
        }
        else if (s.EndsWith('M') || s.EndsWith('m'))
        {
            multiplier = 1024 * 1024;
            s = s[..^1];
        }

        var size = checked(int.Parse(s, CultureInfo.InvariantCulture) * multiplier);
        // The servers accept messages up to 16 MiB (the product's server limit; see Server.cs).
        return size is >= 1 and <= ServerMain.MaxMessageSize
            ? size
            : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"a message size is from 1 B to 16M, not {size:#,0} B"));
    }),
];

