using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace ZmqAspire.AppHost.Tests;

/// <summary>The AppHost with <paramref name="replicas"/> REP server replicas and a client that keeps sending.</summary>
/// <param name="replicas">How many server replicas (<c>ZmqAspire:ServerReplicas</c>).</param>
public sealed class ScaleFixture(int replicas) : AppHostFixture
{
    /// <summary>The fixed simulated work per request, in seconds.</summary>
    public const double WorkSeconds = 0.5;

    public override IReadOnlyList<string> Servers =>
        replicas == 1 ? ["server"] : [.. Enumerable.Range(1, replicas).Select(i => $"server-{i}")];

    protected override IEnumerable<string> ExtraArguments =>
    [
        $"--ZmqAspire:ServerReplicas={replicas}",
        $"--ZmqAspire:ServerWorkSeconds={WorkSeconds.ToString(CultureInfo.InvariantCulture)}",
        "--ZmqAspire:RequestCount=0",
    ];
}

/// <summary>
/// Scale-out: the same AppHost with 1 and then 3 REP server replicas behind the one bastion. The
/// figures (requests/s through the tunnel) are printed and appended to
/// <c>artifacts/test-results/scale-figures.md</c>, not asserted; the assertion is that the client
/// reached every replica.
/// </summary>
public sealed partial class ScaleTests(ITestOutputHelper output)
{
    // Replies timed after the tunnel is up and warm; the window is sized to ~6 s of work at any N.
    private const int WarmupReplies = 3;
    private const int WindowRepliesPerReplica = 12;

    [Fact]
    public async Task Client_spreads_requests_over_every_replica()
    {
        var one = await MeasureAsync(1);
        var three = await MeasureAsync(3);

        var report = string.Join('\n',
            $"## Scale-out through one bastion ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores)",
            string.Empty,
            $"Work time {ScaleFixture.WorkSeconds} s per request; one REQ lane per replica over one SSH session.",
            string.Empty,
            "| replicas | replies timed | seconds | requests/s | ideal (N / work time) |",
            "|---|---|---|---|---|",
            one.Row,
            three.Row,
            string.Empty,
            string.Empty);
        output.WriteLine(report);
        var file = Path.Combine(RepositoryRoot(), "artifacts", "test-results", "scale-figures.md");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.AppendAllTextAsync(file, report);

        Assert.Equal(["server"], one.Served);
        Assert.Equal(["server-1", "server-2", "server-3"], three.Served);
    }

    private async Task<Measurement> MeasureAsync(int replicas)
    {
        var fixture = new ScaleFixture(replicas);
        try
        {
            await fixture.InitializeAsync();
            var window = WindowRepliesPerReplica * replicas;
            var lines = await fixture.WatchLogsAsync(
                "client", l => l.Count(x => ReplyPattern().IsMatch(x)) > WarmupReplies + window, TimeSpan.FromMinutes(3));
            // Each line carries the time the client wrote it (DCP's capture stamp): time the window by those.
            var replies = lines.Select(x => ReplyPattern().Match(x)).Where(m => m.Success)
                .Select(m => DateTimeOffset.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            Assert.True(replies.Count > WarmupReplies + window, $"{replicas} replica(s): too few replies; client log:\n" + string.Join('\n', lines.TakeLast(30)));
            var seconds = (replies[WarmupReplies + window] - replies[WarmupReplies]).TotalSeconds;

            // Which replicas served requests, from each replica's own log.
            var served = new List<string>();
            foreach (var server in fixture.Servers)
            {
                var log = await fixture.WatchLogsAsync(server, l => l.Any(IsRequestLine), TimeSpan.FromSeconds(30));
                if (log.Any(IsRequestLine))
                {
                    served.Add(server);
                }
            }

            var rate = window / seconds;
            var row = string.Create(CultureInfo.InvariantCulture, $"| {replicas} | {window} | {seconds:0.00} | {rate:0.00} | {replicas / ScaleFixture.WorkSeconds:0.00} |");
            return new Measurement(row, served);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    private static bool IsRequestLine(string line) => line.Contains("Received request: Hello", StringComparison.Ordinal);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZmqAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (ZmqAspire.sln) not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^(\S+)\s+Received reply \d+ \[ World from 5556 \]")]
    private static partial Regex ReplyPattern();

    private sealed record Measurement(string Row, List<string> Served);
}
