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
public sealed partial class RequestLoop(
    IOptions<RequestClientOptions> clientOptions,
    ClientCommands commands,
    TunnelState state,
    ILogger<RequestLoop> logger)
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(100);
    private readonly RequestClientOptions _options = clientOptions.Value;
    private long _nextSequence = -1;
    private long _autoSent; // configured requests claimed by the lanes; counting past the count is harmless
    private long _autoFinished;
    private long _autoAnswered;

    /// <summary>Runs one lane until <paramref name="cancellationToken"/> is cancelled (shutdown, or the tunnel gave up), across reconnects of the SSH session.</summary>
    /// <param name="forward">The forward; its local ports stay the same across sessions.</param>
    /// <param name="lane">Which of the forward's ports (server replicas) this lane uses.</param>
    /// <param name="bastion">The SSH server (recorded on spans as the tunnel hop).</param>
    /// <param name="cancellationToken">Stops the lane.</param>
    public void Run(SelfHealingForward forward, int lane, SshServerAddress bastion, CancellationToken cancellationToken)
    {
        var local = forward.LocalEndpoints[lane];
        var remote = forward.Remotes[lane];
        var requesterOptions = new ZmqRequesterOptions
        {
            Endpoint = local.ToString(),
            ServerAddress = remote.Host,
            ServerPort = remote.Port,
            UseEnvelope = _options.Envelope,
            ClientId = _options.ClientId,
            RequestTimeout = _options.RequestTimeout,
            MaxRetries = _options.MaxRetries,
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
        while (!cancellationToken.IsCancellationRequested)
        {
            if (commands.Requests.TryRead(out var asked))
            {
                Exchange(requester, asked, cancellationToken);
            }
            else if (_options.RequestCount == 0 || Interlocked.Increment(ref _autoSent) <= _options.RequestCount)
            {
                if (Exchange(requester, asked: null, cancellationToken))
                {
                    Interlocked.Increment(ref _autoAnswered);
                }

                if (Interlocked.Increment(ref _autoFinished) == _options.RequestCount)
                {
                    LogDone(_options.RequestCount, Interlocked.Read(ref _autoAnswered));
                }

                Pause(_options.Interval, cancellationToken);
            }
            else
            {
                Pause(IdlePoll, cancellationToken);
            }
        }
    }

    // Waits in short slices, so that a request asked for from the dashboard does not wait out a long interval.
    private void Pause(TimeSpan duration, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (!commands.Requests.TryPeek(out _))
        {
            var left = duration - waited.Elapsed;
            if (left <= TimeSpan.Zero || cancellationToken.WaitHandle.WaitOne(left < IdlePoll ? left : IdlePoll))
            {
                return;
            }
        }
    }

    private bool Exchange(ZmqRequester requester, TaskCompletionSource<ZmqReply>? asked, CancellationToken cancellationToken)
    {
        var sequence = Interlocked.Increment(ref _nextSequence);
        LogSending(sequence);
        try
        {
            var reply = requester.Send(_options.Message, sequence, cancellationToken);
            LogReply(sequence, reply.BodyText);
            state.RequestSucceeded();
            asked?.TrySetResult(reply);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            asked?.TrySetCanceled(cancellationToken);
            return false;
        }
        catch (Exception ex) when (ex is ZmqRequestTimeoutException or ZmqProtocolException)
        {
            LogNoReply(sequence, ex.Message);
            state.RequestFailed(ex.Message);
            asked?.TrySetException(ex);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sending request {Sequence} ...")]
    private partial void LogSending(long sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received reply {Sequence} [ {Reply} ]")]
    private partial void LogReply(long sequence, string reply);

    [LoggerMessage(Level = LogLevel.Error, Message = "Request {Sequence} failed: {Reason}")]
    private partial void LogNoReply(long sequence, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Done: sent {Count} requests, {Answered} answered; the tunnel stays up for requests sent on demand")]
    private partial void LogDone(int count, long answered);
}
