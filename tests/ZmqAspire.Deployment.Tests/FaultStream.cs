using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// A stream of requests with unique sequence numbers through the compose deployment's bastion,
/// made of the client's own parts (a <see cref="SelfHealingForward"/> and a Lazy Pirate
/// <see cref="ZmqRequester"/> with the trace envelope), on its own thread, recording what
/// became of each request.
/// </summary>
internal sealed partial class FaultStream : IAsyncDisposable
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(20);
    private readonly SelfHealingForward _forward;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<(long Sequence, DateTime At)> _answered = new();
    private readonly ConcurrentQueue<(long Sequence, string Error)> _failed = new();
    private readonly ConcurrentQueue<(long Sequence, string Error)> _unclear = new();
    private readonly ConcurrentQueue<string> _forwardFailures = new();
    private volatile bool _stopping;
    private long _sent;

    private FaultStream(SelfHealingForward forward, string clientId, TimeSpan requestTimeout, int maxRetries)
    {
        _forward = forward;
        ClientId = clientId;
        RequestTimeout = requestTimeout;
        MaxRetries = maxRetries;
        forward.ForwardFailed += (_, e) => _forwardFailures.Enqueue(e.Error.Message);
        _thread = new Thread(Run) { IsBackground = true, Name = $"fault stream {clientId}" };
        _thread.Start();
    }

    public string ClientId { get; }

    public TimeSpan RequestTimeout { get; }

    public int MaxRetries { get; }

    /// <summary>Gets the failures the forward reported (a target the bastion cannot reach, channel-open timeouts).</summary>
    public IReadOnlyCollection<string> ForwardFailures => _forwardFailures;

    public IReadOnlyCollection<(long Sequence, string Error)> Failed => _failed;

    /// <summary>Logs in through the deployment's bastion and starts sending.</summary>
    public static async Task<FaultStream> StartAsync(FaultFixture fixture, string fault, TimeSpan requestTimeout, int maxRetries)
    {
        var forward = await fixture.OpenForwardAsync();
        // A fresh id per stream: the server's log then tells this stream's work apart.
        return new FaultStream(forward, $"fault-{fault}-{Guid.NewGuid():N}"[..(fault.Length + 14)], requestTimeout, maxRetries);
    }

    /// <summary>The client's login to the deployment's bastion.</summary>
    public static SshTunnelOptions TunnelOptions(ComposeProject project) => new()
    {
        Server = new SshServerAddress("tunnel", "127.0.0.1", project.SshPort),
        HostKey = HostKeyPolicy.Pinned(project.HostKeyFingerprint),
        PrivateKeyPath = project.ClientKeyPath,
        // Also the wait for a channel open on a session: a paused bastion is noticed after it.
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>Waits until <paramref name="count"/> replies arrived at or after <paramref name="since"/>; returns the first one's time.</summary>
    public async Task<DateTime?> WaitForRepliesAfterAsync(DateTime since, int count, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            var after = _answered.Where(a => a.At >= since).Select(a => a.At).Order().ToList();
            if (after.Count >= count)
            {
                return after[0];
            }

            await Task.Delay(100);
        }

        return null;
    }

    /// <summary>Stops after the request in flight and counts: the server's log says what work it did for this stream.</summary>
    public async Task<FaultFigures> StopAsync(ComposeProject project, string fault, DateTime faultEnded)
    {
        _stopping = true;
        await Task.Run(() => _thread.Join(TimeSpan.FromMinutes(1)));
        var serverLog = (await project.ComposeAsync(["logs", "--no-color", "server"])).Output;
        var work = WorkDone().Matches(serverLog)
            .Where(m => m.Groups["client"].Value == ClientId)
            .GroupBy(m => long.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Count());
        var firstGood = _answered.Where(a => a.At >= faultEnded).Select(a => (DateTime?)a.At).Min();
        var sent = Interlocked.Read(ref _sent);
        return new FaultFigures(
            fault,
            sent,
            _answered.Count,
            _failed.Count,
            Duplicated: work.Count(w => w.Value > 1),
            Lost: sent - _answered.Count - _failed.Count,
            RecoverySeconds: firstGood is { } at ? (at - faultEnded).TotalSeconds : null,
            Unclear: [.. _unclear.Select(u => $"{u.Sequence}: {u.Error}")]);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await Task.Run(() => _thread.Join(TimeSpan.FromMinutes(1)));
        await _forward.DisposeAsync();
    }

    private void Run()
    {
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = _forward.LocalEndpoint.ToString(),
            ServerAddress = "server",
            ServerPort = 5556,
            UseEnvelope = true,
            ClientId = ClientId,
            RequestTimeout = RequestTimeout,
            MaxRetries = MaxRetries,
            ReconnectIntervalMax = TimeSpan.FromSeconds(1),
        });
        for (long sequence = 0; !_stopping; sequence++)
        {
            Interlocked.Increment(ref _sent);
            try
            {
                var reply = requester.Send("Hello", sequence);
                if (reply.BodyText == "World from 5556")
                {
                    _answered.Enqueue((sequence, DateTime.UtcNow));
                }
                else
                {
                    _unclear.Enqueue((sequence, $"unexpected reply '{reply.BodyText}'"));
                }
            }
            catch (ZmqRequestTimeoutException ex)
            {
                // The clear failure: no reply after every retry, said so.
                _failed.Enqueue((sequence, ex.Message));
            }
            catch (Exception ex)
            {
                _unclear.Enqueue((sequence, $"{ex.GetType().Name}: {ex.Message}"));
            }

            Thread.Sleep(Pace);
        }
    }

    // The server logs one such line per request it worked on (ReplyServer.LogWorkDone).
    [GeneratedRegex(@"Work done for request (?<seq>\d+) of client (?<client>\S+)")]
    private static partial Regex WorkDone();
}

/// <summary>What became of a fault test's requests.</summary>
/// <param name="Fault">The fault, in words.</param>
/// <param name="Sent">Requests started.</param>
/// <param name="Answered">Requests answered with the right reply.</param>
/// <param name="FailedClear">Requests that ended with "no reply after N attempts".</param>
/// <param name="Duplicated">Requests the server worked on more than once (from its log).</param>
/// <param name="Lost">Requests neither answered nor failed clearly.</param>
/// <param name="RecoverySeconds">From the fault's end to the first good reply.</param>
/// <param name="Unclear">The lost requests' outcomes.</param>
internal sealed record FaultFigures(
    string Fault, long Sent, long Answered, long FailedClear, int Duplicated, long Lost, double? RecoverySeconds, IReadOnlyList<string> Unclear)
{
    private const string Header = "| fault | sent | answered | failed-clear | duplicated | lost | recovery s |\n|---|---|---|---|---|---|---|\n";

    public string Row => string.Create(
        CultureInfo.InvariantCulture,
        $"| {Fault} | {Sent} | {Answered} | {FailedClear} | {Duplicated} | {Lost} | {(RecoverySeconds is { } r ? r.ToString("0.0", CultureInfo.InvariantCulture) : "none")} |");

    /// <summary>Prints the row and appends it to artifacts/test-results/fault-figures.md (with the header when the file is new).</summary>
    public void Report(ITestOutputHelper output)
    {
        output.WriteLine(Header + Row);
        foreach (var line in Unclear)
        {
            output.WriteLine("lost: " + line);
        }

        var directory = Path.Combine(Repo.Root, "artifacts", "test-results");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "fault-figures.md");
        File.AppendAllText(path, (File.Exists(path) ? string.Empty : Header) + Row + "\n");
    }
}
