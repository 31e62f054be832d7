using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ZmqAspire.Soak;

/// <summary>What the soak runs: for how long, how often it samples, and the server's work time.</summary>
internal sealed record SoakSettings(TimeSpan Duration, TimeSpan Warmup, TimeSpan Sample, double WorkSeconds, string OutputPath);

/// <summary>One sample: seconds since load began, replies so far, and both processes' RSS in bytes.</summary>
internal sealed record SoakSample(double Seconds, long Replies, double RepliesPerSecond, long ClientRss, long ClientAnonymous, long ServerRss, long ServerAnonymous);

/// <summary>Starts the AppHost, samples memory and reply counts under load, prints a table and writes JSON.</summary>
internal static class SoakRun
{
    private const double MiB = 1024 * 1024;

    public static async Task<int> RunAsync(SoakSettings settings, CancellationToken cancellationToken)
    {
        var keys = Directory.CreateTempSubdirectory("zmqaspire-soak-keys-").FullName;
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.ZmqAspire_AppHost>(
            [
                $"--ZmqAspire:KeyDirectory={keys}",
                "--ZmqAspire:BastionPort=0", // any free port: the default 2222 may be taken
                $"--ZmqAspire:ServerWorkSeconds={settings.WorkSeconds.ToString(CultureInfo.InvariantCulture)}",
                "--ZmqAspire:RequestCount=0",
                "--ZmqAspire:RequestInterval=0",
            ], cancellationToken).ConfigureAwait(false);
            // The resources' own logs are read below; the console gets only the soak's table.
            builder.Services.AddLogging(logging => logging.ClearProviders());
            await using var app = await builder.BuildAsync(cancellationToken).ConfigureAwait(false);
            Log("starting the AppHost (bastion and server containers, client process)");
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var client = await app.ResourceNotifications.WaitForResourceAsync(
                "client", e => Property(e, "executable.pid") is not null, cancellationToken).ConfigureAwait(false);
            var server = await app.ResourceNotifications.WaitForResourceAsync(
                "server", e => Property(e, "container.id") is not null, cancellationToken).ConfigureAwait(false);
            var serverPid = int.Parse((await DockerAsync("inspect", "-f", "{{.State.Pid}}", (string)Property(server, "container.id")!).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);

            var replies = new ReplyCounter();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var counting = replies.CountAsync(app, stop.Token);
            Log("waiting for the first reply through the tunnel");
            await replies.FirstReply.WaitAsync(TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
            // Looked up once the client answers: DCP's "dotnet run" starts the app as its child.
            var clientPid = ProcessMemory.FindInTree(Convert.ToInt32(Property(client, "executable.pid"), CultureInfo.InvariantCulture), "ZmqAspire.Client")
                ?? throw new InvalidOperationException("the client's process was not found under DCP's executable");
            Log($"load running: client pid {clientPid}, server pid {serverPid}; {settings.Duration.TotalMinutes} min, a sample every {settings.Sample.TotalSeconds} s");

            await LiveHeap.RestoreToolAsync(cancellationToken).ConfigureAwait(false);
            (LiveHeapFigure? Client, LiveHeapFigure? Server) warmHeap = default;
            var samples = new List<SoakSample>();
            var steadyAfter = double.MaxValue;
            SoakSample? beforeDump = null;
            var clock = Stopwatch.StartNew();
            long lastReplies = replies.Count;
            var lastAt = 0.0;
            Console.WriteLine();
            Console.WriteLine("| t (s) | replies | replies/s | client RSS (MiB) | of which heap/stacks | server RSS (MiB) | of which heap/stacks |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
            while (clock.Elapsed < settings.Duration)
            {
                await Task.Delay(settings.Sample, cancellationToken).ConfigureAwait(false);
                var now = clock.Elapsed.TotalSeconds;
                var count = replies.Count;
                var clientMemory = ProcessMemory.Read(clientPid);
                var serverMemory = ProcessMemory.Read(serverPid);
                var s = new SoakSample(
                    Math.Round(now, 1),
                    count,
                    Math.Round((count - lastReplies) / (now - lastAt), 1),
                    clientMemory?.Rss ?? 0,
                    clientMemory?.Anonymous ?? 0,
                    serverMemory?.Rss ?? 0,
                    serverMemory?.Anonymous ?? 0);
                (lastReplies, lastAt) = (count, now);
                samples.Add(s);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {s.Seconds:0} | {s.Replies} | {s.RepliesPerSecond:0} | {s.ClientRss / MiB:0.0} | {s.ClientAnonymous / MiB:0.0} | {s.ServerRss / MiB:0.0} | {s.ServerAnonymous / MiB:0.0} |"));
                if (warmHeap == default && now >= settings.Warmup.TotalSeconds)
                {
                    // After this sample, not before it: the dump's full GC would lower the sample's
                    // RSS, and its EventPipe session leaves each process several MiB of native
                    // buffers (measured: +8 to +10 MiB), a one-off step. So the steady window
                    // starts after the dump, and this last sample before it is printed too.
                    warmHeap = await MeasureHeapsAsync(clientPid, serverPid, cancellationToken).ConfigureAwait(false);
                    steadyAfter = s.Seconds;
                    beforeDump = s;
                }
            }

            var endHeap = await MeasureHeapsAsync(clientPid, serverPid, cancellationToken).ConfigureAwait(false);
            PrintHeaps(warmHeap, endHeap, settings.Warmup);
            if (beforeDump is { } b)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RSS at the end of warm-up, before the first heap dump: client {b.ClientRss / MiB:0.0} MiB, server {b.ServerRss / MiB:0.0} MiB."));
            }


            var summary = Summarize(samples.Where(s => s.Seconds > steadyAfter).ToList(), settings, ProcessMemory.Read(clientPid)?.Peak ?? 0, ProcessMemory.Read(serverPid)?.Peak ?? 0);
            await stop.CancelAsync().ConfigureAwait(false);
            await counting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.OutputPath))!);
            var liveHeap = new { afterWarmup = new { client = warmHeap.Client, server = warmHeap.Server }, atEnd = new { client = endHeap.Client, server = endHeap.Server } };
            await File.WriteAllTextAsync(settings.OutputPath, JsonSerializer.Serialize(new { settings = new { minutes = settings.Duration.TotalMinutes, warmupMinutes = settings.Warmup.TotalMinutes, sampleSeconds = settings.Sample.TotalSeconds, settings.WorkSeconds }, summary, beforeDump, liveHeap, samples }, new JsonSerializerOptions { WriteIndented = true }), cancellationToken).ConfigureAwait(false);
            Log($"wrote {settings.OutputPath}");
            return summary.Replies > 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(keys, recursive: true);
        }
    }

    private static async Task<(LiveHeapFigure? Client, LiveHeapFigure? Server)> MeasureHeapsAsync(int clientPid, int serverPid, CancellationToken cancellationToken) =>
        (await LiveHeap.MeasureAsync(clientPid, inContainer: false, cancellationToken).ConfigureAwait(false),
         await LiveHeap.MeasureAsync(serverPid, inContainer: true, cancellationToken).ConfigureAwait(false));

    // Live bytes after a full GC at the end of warm-up and at the end: a leak grows between the two; GC slack does not.
    private static void PrintHeaps((LiveHeapFigure? Client, LiveHeapFigure? Server) warm, (LiveHeapFigure? Client, LiveHeapFigure? Server) end, TimeSpan warmup)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Live managed heap after a full GC (dotnet-gcdump), at the end of the {warmup.TotalMinutes:0.#}-minute warm-up and at the end:"));
        Console.WriteLine("| process | after warm-up (MiB) | objects | at end (MiB) | objects | biggest types at end |");
        Console.WriteLine("|---|---:|---:|---:|---:|---|");
        foreach (var (name, w, e) in new[] { ("client", warm.Client, end.Client), ("server", warm.Server, end.Server) })
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Mib(w)} | {w?.Objects.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | {Mib(e)} | {e?.Objects.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | {string.Join("; ", e?.TopTypes.Take(3) ?? [])} |"));
        }

        static string Mib(LiveHeapFigure? f) => f is null ? "-" : (f.Bytes / MiB).ToString("0.0", CultureInfo.InvariantCulture);
    }

    private static SoakSummary Summarize(List<SoakSample> steady, SoakSettings settings, long clientPeak, long serverPeak)
    {
        var summary = new SoakSummary(
            steady.Count == 0 ? 0 : steady[^1].Replies,
            steady.Count < 2 ? 0 : (steady[^1].Replies - steady[0].Replies) / (steady[^1].Seconds - steady[0].Seconds),
            Round(steady.Min(s => s.ClientRss) / MiB), Round(steady.Max(s => s.ClientRss) / MiB), Round(SlopePerMinute(steady, s => s.ClientRss) / MiB), Round(SlopePerMinute(steady, s => s.ClientAnonymous) / MiB), Round(clientPeak / MiB),
            Round(steady.Min(s => s.ServerRss) / MiB), Round(steady.Max(s => s.ServerRss) / MiB), Round(SlopePerMinute(steady, s => s.ServerRss) / MiB), Round(SlopePerMinute(steady, s => s.ServerAnonymous) / MiB), Round(serverPeak / MiB));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"After the {settings.Warmup.TotalMinutes:0.#}-minute warm-up and its heap dump ({steady.Count} samples, {summary.RepliesPerSecond:0} replies/s):"));
        Console.WriteLine("| process | RSS min (MiB) | RSS max (MiB) | RSS trend (MiB/min) | heap/stacks trend (MiB/min) | peak RSS, whole run (MiB) | target |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| client | {summary.ClientRssMinMiB} | {summary.ClientRssMaxMiB} | {summary.ClientTrendMiBPerMinute:+0.00;-0.00;0.00} | {summary.ClientHeapTrendMiBPerMinute:+0.00;-0.00;0.00} | {summary.ClientPeakMiB} | < 120 MiB |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| server | {summary.ServerRssMinMiB} | {summary.ServerRssMaxMiB} | {summary.ServerTrendMiBPerMinute:+0.00;-0.00;0.00} | {summary.ServerHeapTrendMiBPerMinute:+0.00;-0.00;0.00} | {summary.ServerPeakMiB} | < 80 MiB |"));
        return summary;
    }

    // Least-squares slope of RSS over time, in bytes per minute: growth shows as a steady positive trend.
    private static double SlopePerMinute(List<SoakSample> samples, Func<SoakSample, long> value)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var meanT = samples.Average(s => s.Seconds);
        var meanV = samples.Average(s => (double)value(s));
        var num = samples.Sum(s => (s.Seconds - meanT) * (value(s) - meanV));
        var den = samples.Sum(s => (s.Seconds - meanT) * (s.Seconds - meanT));
        return den == 0 ? 0 : num / den * 60;
    }

    private static double Round(double value) => Math.Round(value, 2);

    private static object? Property(ResourceEvent e, string name) =>
        e.Snapshot.Properties.FirstOrDefault(p => p.Name == name && p.Value is not null and not "")?.Value;

    private static async Task<string> DockerAsync(params string[] args)
    {
        var (code, stdout, _) = await Tool.RunAsync("docker", args).ConfigureAwait(false);
        return code == 0 ? stdout : throw new InvalidOperationException($"docker {string.Join(' ', args)} failed");
    }

    private static void Log(string message) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[soak {DateTime.Now:HH:mm:ss}] {message}"));
}

/// <summary>The soak's figures after warm-up; sizes in MiB, trends in MiB per minute.</summary>
internal sealed record SoakSummary(
    long Replies,
    double RepliesPerSecond,
    double ClientRssMinMiB,
    double ClientRssMaxMiB,
    double ClientTrendMiBPerMinute,
    double ClientHeapTrendMiBPerMinute,
    double ClientPeakMiB,
    double ServerRssMinMiB,
    double ServerRssMaxMiB,
    double ServerTrendMiBPerMinute,
    double ServerHeapTrendMiBPerMinute,
    double ServerPeakMiB);

/// <summary>Counts the client's "Received reply" log lines (one per answered request).</summary>
internal sealed class ReplyCounter
{
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public Task FirstReply => _first.Task;

    public async Task CountAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var logs = app.Services.GetRequiredService<ResourceLoggerService>();
        // Watch by resource, not by name: DCP names each instance with a suffix (client-abcd).
        var client = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == "client");
        await foreach (var batch in logs.WatchAsync(client).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var n = batch.Count(l => l.Content.Contains("Received reply", StringComparison.Ordinal));
            if (n > 0 && Interlocked.Add(ref _count, n) > 0)
            {
                _first.TrySetResult();
            }
        }
    }
}
