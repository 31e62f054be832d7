using System.Globalization;
using System.Text;

namespace ZmqAspire.Benchmarks;

/// <summary>Ratios, the Markdown tables and the smoke check.</summary>
internal static class Report
{
    private const string Direct = "netmq";

    public static string Size(int bytes) => bytes switch
    {
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => $"{bytes / (1024 * 1024)} MiB",
        >= 1024 when bytes % 1024 == 0 => $"{bytes / 1024} KiB",
        _ => $"{bytes} B",
    };

    public static void ComputeRatios(BenchResults results)
    {
        var peers = results.Modes.ToDictionary(m => m.Id, m => Mode.DirectOf(m.Peer));
        string DirectOf(string mode) => peers.TryGetValue(mode, out var d) && results.Modes.Any(m => m.Id == d) ? d : Direct;
        foreach (var r in results.Latency)
        {
            var direct = results.Latency.FirstOrDefault(d => d.Mode == DirectOf(r.Mode) && d.Size == r.Size)?.Median;
            r.P50VersusNetMQDirect = r.Median is { } m && direct is { P50Us: > 0 } ? m.P50Us / direct.P50Us : null;
        }

        foreach (var list in new[] { results.PushPull, results.DealerRouter })
        {
            foreach (var r in list)
            {
                var direct = list.FirstOrDefault(d => d.Mode == DirectOf(r.Mode) && d.Size == r.Size)?.MedianMessagesPerSecond;
                r.VersusNetMQDirect = r.MedianMessagesPerSecond is { } m && direct is > 0 ? m / direct : null;
            }
        }

        foreach (var r in results.Concurrency)
        {
            var one = results.Concurrency.FirstOrDefault(d => d.Mode == r.Mode && d.Size == r.Size && d.Clients == 1)?.MedianRoundTripsPerSecond;
            var direct = results.Concurrency.FirstOrDefault(d => d.Mode == DirectOf(r.Mode) && d.Size == r.Size && d.Clients == r.Clients)?.MedianRoundTripsPerSecond;
            r.VersusOneClient = r.MedianRoundTripsPerSecond is { } m && one is > 0 ? m / one : null;
            r.VersusNetMQDirect = r.MedianRoundTripsPerSecond is { } m2 && direct is > 0 ? m2 / direct : null;
        }
    }

    /// <summary>Lists every figure a required mode failed to produce (empty when all are there).</summary>
    public static List<string> Missing(BenchResults results, IEnumerable<Mode> modes)
    {
        var missing = new List<string>();
        static bool Good(double? v) => v is { } x && double.IsFinite(x) && x > 0;
        var phases = results.Settings.Phases;
        foreach (var mode in modes.Where(m => m.Required))
        {
            foreach (var size in results.Settings.Sizes)
            {
                if (phases.Contains("latency") && !Good(results.Latency.FirstOrDefault(r => r.Mode == mode.Id && r.Size == size)?.Median?.P50Us))
                {
                    missing.Add($"{mode.Id}: latency {Size(size)}");
                }

                if (phases.Contains("throughput") && !Good(results.PushPull.FirstOrDefault(r => r.Mode == mode.Id && r.Size == size)?.MedianMessagesPerSecond))
                {
                    missing.Add($"{mode.Id}: push/pull {Size(size)}");
                }

                if (phases.Contains("throughput") && !Good(results.DealerRouter.FirstOrDefault(r => r.Mode == mode.Id && r.Size == size)?.MedianMessagesPerSecond))
                {
                    missing.Add($"{mode.Id}: dealer/router {Size(size)}");
                }
            }

            foreach (var size in phases.Contains("concurrency") ? results.Settings.ConcurrencySizes : [])
            {
                foreach (var k in results.Settings.Clients)
                {
                    if (!Good(results.Concurrency.FirstOrDefault(r => r.Mode == mode.Id && r.Size == size && r.Clients == k)?.MedianRoundTripsPerSecond))
                    {
                        missing.Add($"{mode.Id}: {k} concurrent client(s) {Size(size)}");
                    }
                }
            }

            if (!Good(results.PeakRss.FirstOrDefault(p => p.Mode == mode.Id)?.ClientProcessBytes))
            {
                missing.Add($"{mode.Id}: peak RSS");
            }
        }

        // zmq-tunnel's memory per forward is the library's (in-process tunnel): not measured again.
        foreach (var transport in modes.Where(m => m.Required && m.Transport is not "direct" and not "cli" && phases.Contains("memory")).Select(m => m.Transport).Distinct())
        {
            var title = transport == "tunnel" ? "ZmqAspire tunnel" : "OpenSSH ssh -L";
            if (results.MemoryPerForward.All(f => f.Tunnel != title))
            {
                missing.Add($"{transport}: memory per forward");
            }
        }

        return missing;
    }

    public static string Markdown(BenchResults results)
    {
        var md = new StringBuilder();
        var m = results.Machine;
        var s = results.Settings;
        var titles = results.Modes.ToDictionary(x => x.Id, x => x.Title);
        string Title(string id) => titles.TryGetValue(id, out var t) ? t : id;

        md.AppendLine("## ZmqAspire benchmark" + (s.Smoke ? " (smoke run: tiny counts, not figures)" : string.Empty));
        md.AppendLine();
        md.AppendLine(Inv($"- Machine: {m.Cpu}, {m.Cores} cores, {m.MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB; {m.Os}, Linux {m.Kernel}; {m.Dotnet}"));
        md.AppendLine(Inv($"- NetMQ {m.NetMQ}, SSH.NET {m.SshNet}, {m.OpenSsh}; ")
            + (s.WanRttMs > 0 ? Inv($"WAN mode: sshd and the servers in a network namespace of their own behind a veth pair, with a delay line adding {s.WanRttMs} ms RTT in front of sshd and of every server port")
                : s.Netns ? "sshd and the servers in a network namespace of their own, reached over a veth pair (no delay line on sshd; the direct modes pass a zero-delay relay)"
                : "everything on 127.0.0.1 (server in its own process, one local sshd)"));
        md.AppendLine(Inv($"- Load average at start {m.LoadAverageAtStart}, at end {results.LoadAverageAtEnd}. {m.Note}"));
        md.AppendLine(Inv($"- {s.Repeats} run(s) of each measurement, interleaved across modes; medians shown. Duration {results.DurationSeconds:0} s."));
        foreach (var mode in results.Modes.Where(x => x.Cipher is not null).DistinctBy(x => x.Transport))
        {
            md.AppendLine(Inv($"- {TransportTitle(mode.Transport)} cipher: `{mode.Cipher}`"));
        }

        md.AppendLine();
        md.AppendLine("### REQ/REP round-trip latency (µs)");
        md.AppendLine();
        md.AppendLine("| size | mode | mean | p50 | p50 spread | p99 | p99.9 | slowest | stalls | p50 vs direct | vs ssh -L |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results.Latency)
        {
            var x = r.Median;
            var p50s = r.Runs.Select(run => run.P50Us).ToList();
            var reference = Verdict.ReferenceOf(r.Mode, results.Modes) is { } refId
                ? results.Latency.FirstOrDefault(l => l.Mode == refId && l.Size == r.Size)?.Runs.Select(run => run.P50Us).ToList()
                : null;
            md.AppendLine(x is null
                ? $"| {Size(r.Size)} | {Title(r.Mode)} | — | — | — | — | — | — | — | — | — |"
                : Inv($"| {Size(r.Size)} | {Title(r.Mode)} | {Us(x.MeanUs)} | {Us(x.P50Us)} | {Verdict.Spread(p50s, v => Us(v))} | {Us(x.P99Us)} | {Us(x.P999Us)} | {Us(r.Runs.Max(run => run.MaxUs))} | {r.Runs.Sum(run => run.Stalls)}/{r.Runs.Sum(run => run.Samples)} | {Ratio(r.P50VersusNetMQDirect)} | {(reference is null ? "—" : Verdict.Compare(p50s, reference, higherIsBetter: false))} |"));
        }

        md.AppendLine();
        md.AppendLine(Inv($"Slowest: the slowest round trip of all runs. Stalls: round trips slower than {LatencyStats.StallFactor:0}× their run's p50, of all samples (an intermittent stall shows here before it moves p50 or p99). ")
            + "Raw TCP rows are a length-prefixed echo over one plain socket: the floor. Samples per run: "
            + string.Join(", ", s.Sizes.Select(size => $"{Size(size)} {results.Latency.FirstOrDefault(r => r.Size == size && r.Runs.Count > 0)?.Runs[0].Samples}")) + ".");
        md.AppendLine();
        md.AppendLine("### Throughput (messages/s and MB/s of payload, 1 MB = 10^6 bytes)");
        md.AppendLine();
        md.AppendLine("| size | mode | PUSH→PULL msg/s | spread | MB/s | vs direct | vs ssh -L | DEALER↔ROUTER msg/s | spread | MB/s | vs direct | vs ssh -L |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|");
        foreach (var p in results.PushPull)
        {
            var d = results.DealerRouter.FirstOrDefault(x => x.Mode == p.Mode && x.Size == p.Size);
            md.AppendLine(Inv($"| {Size(p.Size)} | {Title(p.Mode)} | {Count(p.MedianMessagesPerSecond)} | {Verdict.Spread(Rates(p), v => Count(v))} | {Mb(p.MedianMegabytesPerSecond)} | {Ratio(p.VersusNetMQDirect)} | {VersusSshL(p, results.PushPull, results.Modes)} ")
                + Inv($"| {Count(d?.MedianMessagesPerSecond)} | {(d is null ? "—" : Verdict.Spread(Rates(d), v => Count(v)))} | {Mb(d?.MedianMegabytesPerSecond)} | {Ratio(d?.VersusNetMQDirect)} | {(d is null ? "—" : VersusSshL(d, results.DealerRouter, results.Modes))} |"));
        }

        md.AppendLine();
        md.AppendLine(Inv($"Each throughput run moves about {s.ThroughputSeconds:0.##} s of traffic (its count sized from its warm-up's rate). ")
            + "Spread: the slowest and fastest run. vs ssh -L: how many times as fast as OpenSSH's ssh -L (medians; for latency its p50 over ours), "
            + "*ahead* when every run of ours beat every run of ssh -L, *behind* when every run of ssh -L beat every run of ours, else *within noise* "
            + "(no word with fewer than 3 runs; equally fast modes would still show *ahead* by chance once in 20 invocations with 3 runs, once in 252 with 5).");
        md.AppendLine();
        md.AppendLine("PUSH→PULL: one-way, timed from the first send until the server has counted the last message. DEALER↔ROUTER: the server echoes; "
            + "requests kept in flight: " + string.Join(", ", s.Sizes.Select(size => $"{Size(size)} {Workloads.Window(size)}"))
            + "; MB/s counts one direction. Raw TCP rows: a one-way stream and a pipelined echo, one send() per message and no batching, "
            + "so for small messages they are not a ceiling (NetMQ batches).");
        md.AppendLine();
        md.AppendLine("### Concurrent REQ clients over one SSH session");
        md.AppendLine();
        md.AppendLine("| size | mode | clients | round trips/s | spread | vs 1 client | p50 µs | vs direct | vs ssh -L | cores busy |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var c in results.Concurrency)
        {
            var rates = c.Runs.Select(r => r.RoundTripsPerSecond).ToList();
            var reference = Verdict.ReferenceOf(c.Mode, results.Modes) is { } refId
                ? results.Concurrency.FirstOrDefault(x => x.Mode == refId && x.Size == c.Size && x.Clients == c.Clients)?.Runs.Select(r => r.RoundTripsPerSecond).ToList()
                : null;
            md.AppendLine(Inv($"| {Size(c.Size)} | {Title(c.Mode)} | {c.Clients} | {Count(c.MedianRoundTripsPerSecond)} | {Verdict.Spread(rates, v => Count(v))} | {Ratio(c.VersusOneClient)} | {Us(c.MedianP50Us)} | {Ratio(c.VersusNetMQDirect)} | {(reference is null ? "—" : Verdict.Compare(rates, reference, higherIsBetter: true))} | {(c.MedianBusyCores is { } busy ? $"{busy:0.00} of {Environment.ProcessorCount}" : "—")} |"));
        }

        md.AppendLine();
        md.AppendLine("Every client has its own REQ socket (its own TCP connection and SSH channel); through a tunnel all channels share one SSH connection. One REP socket serves them all. "
            + "Cores busy: the whole machine's CPU time during the run (every process, /proc/stat) per second of it; when one client already keeps C cores busy, "
            + $"more clients cannot go faster than {Environment.ProcessorCount}/C times one client.");
        md.AppendLine();
        md.AppendLine("### Memory");
        md.AppendLine();
        md.AppendLine("| mode | client process peak RSS | ssh client process peak RSS | server process peak RSS |");
        md.AppendLine("|---|---:|---:|---:|");
        foreach (var p in results.PeakRss)
        {
            md.AppendLine(Inv($"| {Title(p.Mode)} | {MiB(p.ClientProcessBytes)} | {(p.SshProcessBytes is { } ssh ? MiB(ssh) : "—")} | {MiB(p.ServerProcessBytes)} |"));
        }

        md.AppendLine();
        md.AppendLine("Peak RSS is VmHWM, reset before each measurement (clear_refs) and the largest over that mode's measurements. "
            + "The benchmark process is the client (and holds our tunnel); with ssh -L the tunnel's client side is the ssh process.");
        if (results.MemoryPerForward.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("| tunnel | forwards | KiB per idle forward | KiB per active connection | time to open the connections |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var f in results.MemoryPerForward)
            {
                md.AppendLine(Inv($"| {f.Tunnel} | {f.Forwards} | {f.IdleBytesPerForward / 1024:0.0} | {f.ActiveBytesPerConnection / 1024:0.0} | {f.OpenActiveMilliseconds:0} ms |"));
            }

            md.AppendLine();
            md.AppendLine("RSS delta / N after opening N forwards on one session (listeners only), then one raw TCP connection with an echo through each.");
        }

        if (results.Errors.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("### Errors");
            md.AppendLine();
            foreach (var e in results.Errors)
            {
                md.AppendLine("- " + e);
            }
        }

        return md.ToString();
    }

    private static List<double> Rates(ThroughputResult r) => [.. r.Runs.Select(run => run.MessagesPerSecond)];

    /// <summary>The "vs ssh -L" cell of a throughput row: for our modes only.</summary>
    private static string VersusSshL(ThroughputResult row, List<ThroughputResult> table, IReadOnlyList<ModeInfo> modes)
    {
        var reference = Verdict.ReferenceOf(row.Mode, modes) is { } refId ? table.FirstOrDefault(x => x.Mode == refId && x.Size == row.Size) : null;
        return reference is null ? "—" : Verdict.Compare(Rates(row), Rates(reference), higherIsBetter: true);
    }

    private static string TransportTitle(string transport) => transport switch
    {
        "ssh-L" => "OpenSSH ssh -L",
        "tunnel" => "ZmqAspire tunnel",
        "sshnet" => "SSH.NET defaults",
        "cli" => "zmq-tunnel",
        _ => transport,
    };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Us(double? us) => us switch
    {
        null => "—",
        < 100 => us.Value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => us.Value.ToString("#,0", CultureInfo.InvariantCulture),
    };

    private static string Count(double? v) => v is null ? "—" : v.Value.ToString("#,0", CultureInfo.InvariantCulture);

    private static string Mb(double? v) => v is null ? "—" : v.Value.ToString(v < 10 ? "0.00" : "#,0.0", CultureInfo.InvariantCulture);

    private static string Ratio(double? v) => v is null ? "—" : v.Value.ToString(v < 10 ? "0.00" : "#,0", CultureInfo.InvariantCulture) + "×";

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
}
