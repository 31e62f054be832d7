using System.Collections.Concurrent;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// A stream of unique requests through a deployment's bastion over several lanes, as the client
/// runs them: one SSH session, one local forward per lane (all to the same target), one Lazy
/// Pirate <see cref="ZmqRequester"/> per lane on its own thread, each lane with its own client id
/// (so the server's log tells lanes and repeats apart). Records what became of each request.
/// </summary>
internal sealed class LaneStream : IAsyncDisposable
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(20);
    private readonly SelfHealingForward _forward;
    private readonly List<Thread> _threads = [];
    private readonly ConcurrentQueue<(string Client, long Sequence, DateTime At)> _answered = new();
    private readonly ConcurrentQueue<(string Client, long Sequence, string Error)> _failed = new();
    private readonly ConcurrentQueue<string> _unclear = new();
    private volatile bool _stopping;
    private long _sent;

    private LaneStream(SelfHealingForward forward, string prefix, TimeSpan requestTimeout, int maxRetries)
    {
        _forward = forward;
        for (var lane = 0; lane < forward.LocalEndpoints.Count; lane++)
        {
            var clientId = $"{prefix}-{lane}";
            ClientIds.Add(clientId);
            var endpoint = forward.LocalEndpoints[lane].ToString();
            var thread = new Thread(() => Run(endpoint, clientId, requestTimeout, maxRetries)) { IsBackground = true, Name = $"lane {clientId}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    public List<string> ClientIds { get; } = [];

    public long Sent => Interlocked.Read(ref _sent);

    public int Answered => _answered.Count;

    public IReadOnlyCollection<(string Client, long Sequence, string Error)> Failed => _failed;

    /// <summary>Logs in to the bastion at 127.0.0.1:<paramref name="sshPort"/> and starts <paramref name="lanes"/> lanes to <paramref name="target"/>.</summary>
    public static async Task<LaneStream> StartAsync(
        int sshPort, string hostKeyFingerprint, string clientKeyPath, TcpEndpoint target, int lanes, string prefix, TimeSpan requestTimeout, int maxRetries)
    {
        var options = new SshTunnelOptions
        {
            Server = new SshServerAddress("tunnel", "127.0.0.1", sshPort),
            HostKey = HostKeyPolicy.Pinned(hostKeyFingerprint),
            PrivateKeyPath = clientKeyPath,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        var forward = SelfHealingForward.Start(
            options, [.. Enumerable.Repeat(target, lanes)], new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(200), MaxReconnectDelay = TimeSpan.FromSeconds(2) });
        await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(90));
        return new LaneStream(forward, $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)], requestTimeout, maxRetries);
    }

    /// <summary>Waits until every lane has <paramref name="count"/> replies after <paramref name="since"/>.</summary>
    public async Task<bool> WaitForRepliesAsync(DateTime since, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (ClientIds.All(c => _answered.Count(a => a.Client == c && a.At >= since) >= count))
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    /// <summary>Stops after the requests in flight and counts; <paramref name="serverWork"/> gives the work the servers did.</summary>
    public async Task<FaultFigures> StopAsync(string fault, Func<Task<List<(string Task, string Client, long Sequence)>>> serverWork)
    {
        _stopping = true;
        await Task.Run(() => _threads.ForEach(t => t.Join(TimeSpan.FromMinutes(1))));
        var work = (await serverWork())
            .Where(w => ClientIds.Contains(w.Client))
            .GroupBy(w => (w.Client, w.Sequence))
            .ToDictionary(g => g.Key, g => g.Count());
        var sent = Sent;
        return new FaultFigures(
            fault,
            sent,
            _answered.Count,
            _failed.Count,
            Duplicated: work.Count(w => w.Value > 1),
            Lost: sent - _answered.Count - _failed.Count,
            RecoverySeconds: null,
            Unclear: [.. _unclear]);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await Task.Run(() => _threads.ForEach(t => t.Join(TimeSpan.FromMinutes(1))));
        await _forward.DisposeAsync();
    }

    private void Run(string endpoint, string clientId, TimeSpan requestTimeout, int maxRetries)
    {
        using var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = endpoint,
            ServerAddress = "server",
            ServerPort = 5556,
            UseEnvelope = true,
            ClientId = clientId,
            RequestTimeout = requestTimeout,
            MaxRetries = maxRetries,
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
                    _answered.Enqueue((clientId, sequence, DateTime.UtcNow));
                }
                else
                {
                    _unclear.Enqueue($"{clientId} {sequence}: unexpected reply '{reply.BodyText}'");
                }
            }
            catch (ZmqRequestTimeoutException ex)
            {
                // The clear failure: no reply after every retry, said so.
                _failed.Enqueue((clientId, sequence, ex.Message));
            }
            catch (Exception ex)
            {
                _unclear.Enqueue($"{clientId} {sequence}: {ex.GetType().Name}: {ex.Message}");
            }

            Thread.Sleep(Pace);
        }
    }
}
