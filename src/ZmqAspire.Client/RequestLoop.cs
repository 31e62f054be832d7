using System.Diagnostics;
using Microsoft.Extensions.Options;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// Sends requests through the tunnel, across reconnects of its SSH session: first the configured
/// count, then only those asked for through <see cref="ClientCommands"/>. Each
/// <see cref="Run"/> is one lane (one REQ socket, one local port, one server replica) on its own
/// dedicated thread, since a NetMQ socket belongs to one thread; with several replicas, lanes
/// run side by side and share the numbering and the count.
/// </summary>
/// <remarks>
/// Lazy Pirate across lanes (docs/patterns.md, "Routing around a dead replica"): each attempt
/// waits <see cref="RequestClientOptions.RequestTimeout"/> on its lane's socket; a request left
/// unanswered is moved, with the same sequence number, to a lane that has not tried it
/// (<see cref="MovedRequests"/>), which takes it before new work. It fails only after
/// <see cref="RequestClientOptions.MaxRetries"/> + 1 attempts in all (on every replica, or again
/// on the only one). When the SSH session was lost under the attempt, the path failed, not the
/// replica: the resend goes to the same replica, whose reply cache answers if it did the work. A dead replica so costs the request it held one timeout of delay, never a
/// failure, and the other lanes go on meanwhile.
/// </remarks>
public sealed partial class RequestLoop(
    IOptions<RequestClientOptions> clientOptions,
    ClientCommands commands,
    TunnelHealth health,
    ILogger<RequestLoop> logger)
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(100);
    private readonly RequestClientOptions _options = clientOptions.Value;
    private MovedRequests? _moved;
    private long _nextSequence = -1;
    private long _autoSent; // configured requests claimed by the lanes; counting past the count is harmless
    private long _autoFinished;
    private long _autoAnswered;

    /// <summary>Runs one lane until <paramref name="cancellationToken"/> is cancelled (shutdown, or the tunnel gave up), across reconnects of the SSH session.</summary>
    /// <param name="tunnel">The tunnel; its local endpoints stay the same across sessions.</param>
    /// <param name="lane">Which of the tunnel's local endpoints (server replicas) this lane uses.</param>
    /// <param name="cancellationToken">Stops the lane.</param>
    public void Run(SshTunnel tunnel, int lane, CancellationToken cancellationToken)
    {
        var moved = LazyInitializer.EnsureInitialized(ref _moved, () => new MovedRequests(tunnel.RemoteEndpoints.Count));
        var local = tunnel.LocalEndpoints[lane];
        var remote = tunnel.RemoteEndpoints[lane];
        var bastion = tunnel.Server;
        var requesterOptions = new ZmqRequesterOptions
        {
            Endpoint = local.ToString(),
            ServerAddress = remote.Host,
            ServerPort = remote.Port,
            UseEnvelope = _options.Envelope,
            ClientId = _options.ClientId,
            RequestTimeout = _options.RequestTimeout,
            // One attempt per call: the resend is this loop's, possibly on another lane.
            MaxRetries = 0,
            CurveServerKey = _options.CurveServerKey,
            ReconnectIntervalMax = _options.ReconnectIntervalMax,
            SpanAttributes =
            {
                new(TelemetryAttributes.TunnelBastion, $"{bastion.Host}:{bastion.Port}"),
                new(TelemetryAttributes.TunnelTarget, $"{remote.Host}:{remote.Port}"),
                new(TelemetryAttributes.TunnelLocalPort, local.Port),
            },
        };
        using var requester = new ZmqRequester(requesterOptions);
        using var target = new TargetWatch(tunnel, lane);
        while (!cancellationToken.IsCancellationRequested)
        {
            if (target.Refused && target.OthersServe)
            {
                // The bastion refuses channels to this replica (it is gone): leave the work to the
                // others. The socket keeps reconnecting, so its return is noticed (the tunnel's RefusedTargets).
                moved.Unpin(lane);
                cancellationToken.WaitHandle.WaitOne(IdlePoll);
            }
            else if (moved.TryTake(lane, out var again))
            {
                Attempt(tunnel, requester, lane, remote, target, again, moved, cancellationToken);
            }
            else if (commands.Requests.TryRead(out var asked))
            {
                Attempt(tunnel, requester, lane, remote, target, new PendingRequest(Interlocked.Increment(ref _nextSequence), asked, Counted: false), moved, cancellationToken);
            }
            else if (_options.RequestCount == 0 || Interlocked.Increment(ref _autoSent) <= _options.RequestCount)
            {
                Attempt(tunnel, requester, lane, remote, target, new PendingRequest(Interlocked.Increment(ref _nextSequence), null, Counted: true), moved, cancellationToken);
                Pause(_options.Interval, moved, cancellationToken);
            }
            else
            {
                Pause(IdlePoll, moved, cancellationToken);
            }
        }
    }

    // Waits in short slices, so that a request asked for from the dashboard, or moved from
    // another lane, does not wait out a long interval.
    private void Pause(TimeSpan duration, MovedRequests moved, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (!commands.Requests.TryPeek(out _) && !moved.Any)
        {
            var left = duration - waited.Elapsed;
            if (left <= TimeSpan.Zero || cancellationToken.WaitHandle.WaitOne(left < IdlePoll ? left : IdlePoll))
            {
                return;
            }
        }
    }

    private void Attempt(SshTunnel tunnel, ZmqRequester requester, int lane, TcpEndpoint replica, TargetWatch target, PendingRequest request, MovedRequests moved, CancellationToken cancellationToken)
    {
        var sequence = request.Sequence;
        request.Attempts++;
        request.TriedLanes |= 1UL << lane;
        LogSending(sequence);
        using var attempt = target.BeginAttempt(cancellationToken);
        var sessions = tunnel.SessionCount;
        try
        {
            var reply = requester.Send(_options.Message, sequence, attempt.Token);
            LogReply(sequence, reply.BodyText);
            health.RequestSucceeded();
            request.Asked?.TrySetResult(reply);
            Finished(request, answered: true);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            request.Asked?.TrySetCanceled(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The bastion started refusing channels to this replica while another serves: the
            // replica is gone, and the request moves now rather than after its timeout. Not an
            // attempt against the budget: it was never going to be answered here.
            request.Attempts--;
            request.PinnedLane = -1;
            LogMovedRefused(sequence, replica.ToString());
            health.RequestMoved();
            moved.Add(request);
        }
        catch (ZmqRequestTimeoutException) when (request.Attempts <= _options.MaxRetries && (tunnel.SessionCount != sessions || !tunnel.IsUp))
        {
            // The SSH path failed under the attempt (the session was lost or is down), not the
            // replica: resend to the same replica, whose reply cache answers if it did the work.
            LogResent(sequence, replica.ToString(), _options.RequestTimeout.TotalSeconds, request.Attempts);
            request.PinnedLane = lane;
            moved.Add(request);
        }
        catch (ZmqRequestTimeoutException) when (request.Attempts <= _options.MaxRetries)
        {
            // Lazy Pirate: the socket was replaced; the resend goes to a replica that has not tried it.
            LogMoved(sequence, replica.ToString(), _options.RequestTimeout.TotalSeconds, request.Attempts, moved.Lanes > 1 ? "to another replica" : "again on a new socket");
            request.PinnedLane = -1;
            health.RequestMoved();
            moved.Add(request);
        }
        catch (Exception ex) when (ex is ZmqRequestTimeoutException or ZmqProtocolException)
        {
            var error = ex is ZmqRequestTimeoutException
                ? new ZmqRequestTimeoutException(sequence, request.Attempts, _options.RequestTimeout, _options.CurveServerKey is null ? null : ZmqRequester.CurveHint)
                : ex;
            LogNoReply(sequence, error.Message);
            health.RequestFailed(error.Message);
            request.Asked?.TrySetException(error);
            Finished(request, answered: false);
        }
    }

    private void Finished(PendingRequest request, bool answered)
    {
        if (!request.Counted)
        {
            return;
        }

        if (answered)
        {
            Interlocked.Increment(ref _autoAnswered);
        }

        if (Interlocked.Increment(ref _autoFinished) == _options.RequestCount)
        {
            LogDone(_options.RequestCount, Interlocked.Read(ref _autoAnswered));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sending request {Sequence} ...")]
    private partial void LogSending(long sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received reply {Sequence} [ {Reply} ]")]
    private partial void LogReply(long sequence, string reply);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {Sequence}: no reply from {Replica} within {TimeoutSeconds} s (attempt {Attempt}); sending it {Where}")]
    private partial void LogMoved(long sequence, string replica, double timeoutSeconds, int attempt, string where);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {Sequence}: no reply from {Replica} within {TimeoutSeconds} s (attempt {Attempt}) while the SSH session was lost; sending it again to the same replica")]
    private partial void LogResent(long sequence, string replica, double timeoutSeconds, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {Sequence}: the bastion refuses channels to {Replica} now; sending it to another replica")]
    private partial void LogMovedRefused(long sequence, string replica);

    [LoggerMessage(Level = LogLevel.Error, Message = "Request {Sequence} failed: {Reason}")]
    private partial void LogNoReply(long sequence, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Done: sent {Count} requests, {Answered} answered; the tunnel stays up for requests sent on demand")]
    private partial void LogDone(int count, long answered);
}
