using System.Diagnostics;
using Microsoft.Extensions.Options;
using NetMQ;
using NetMQ.Sockets;
using Polly;
using Polly.Retry;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// The seed's REQ client: logs in to the bastion, opens a local forward to the server and sends
/// numbered requests through it, logging each reply.
/// </summary>
public sealed partial class RequestClient(
    IOptions<TunnelSettings> tunnelSettings,
    IOptions<RequestClientOptions> clientOptions,
    TunnelState state,
    ILogger<RequestClient> logger) : BackgroundService
{
    private static readonly TimeSpan ReceiveSlice = TimeSpan.FromMilliseconds(100);
    private readonly RequestClientOptions _options = clientOptions.Value;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = tunnelSettings.Value;
        var remote = TcpEndpoint.Parse(settings.RemoteEndpoint);
        SshTunnelSession session;
        try
        {
            session = await ConnectWithRetryAsync(settings.ToSshTunnelOptions(), stoppingToken).ConfigureAwait(false);
        }
        catch (SshTunnelException ex)
        {
            // Host key, credential and key-file errors are not retried: they need a person.
            LogTunnelFailed(ex, ex.Message);
            state.Down(ex.Message);
            return;
        }

        using (session)
        {
            using var forward = session.OpenLocalForward(remote);
            forward.Failed += (_, e) => LogForwardFailed(e.Message);
            session.ErrorOccurred += (_, e) => state.Down($"SSH session error: {e.Message}");
            state.Connected(session, forward);
            LogTunnelUp(session.Server.ToString(), session.HostKeyFingerprint, forward.LocalEndpoint.ToString(), remote.ToString());

            // NetMQ sockets belong to one thread: run the request loop on a dedicated one.
            var answered = await Task.Factory.StartNew(
                () => SendRequests(forward, stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                .ConfigureAwait(false);
            if (!stoppingToken.IsCancellationRequested)
            {
                state.Finished($"sent {_options.RequestCount} requests, {answered} answered; tunnel closed");
            }
        }
    }

    private async Task<SshTunnelSession> ConnectWithRetryAsync(SshTunnelOptions options, CancellationToken stoppingToken)
    {
        // The bastion may still be starting: retry unreachability with exponential backoff and jitter.
        var pipeline = new ResiliencePipelineBuilder<SshTunnelSession>()
            .AddRetry(new RetryStrategyOptions<SshTunnelSession>
            {
                ShouldHandle = new PredicateBuilder<SshTunnelSession>().Handle<SshServerUnreachableException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = TimeSpan.FromSeconds(10),
                OnRetry = args =>
                {
                    var message = args.Outcome.Exception?.Message ?? "unknown error";
                    state.Down(message);
                    LogConnectRetry(args.AttemptNumber + 1, args.RetryDelay.TotalSeconds, message);
                    return default;
                },
            })
            .Build();
        return await pipeline.ExecuteAsync(
            async ct => await SshTunnelSession.ConnectAsync(options, ct).ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
    }

    private int SendRequests(LocalForward forward, CancellationToken stoppingToken)
    {
        var answered = 0;
        var endpoint = forward.LocalEndpoint.ToString();
        var socket = CreateSocket(endpoint);
        try
        {
            for (var n = 0; (_options.RequestCount == 0 || n < _options.RequestCount) && !stoppingToken.IsCancellationRequested; n++)
            {
                using var activity = ClientTelemetry.Source.StartActivity("REQ request", ActivityKind.Client);
                activity?.SetTag("zmqaspire.request.sequence", n);
                LogSending(n);
                socket.SendFrame(_options.Message);
                var reply = Receive(socket, stoppingToken);
                if (reply is not null)
                {
                    LogReply(n, reply);
                    answered++;
                }
                else if (!stoppingToken.IsCancellationRequested)
                {
                    // A REQ socket that lost a reply can never send again: replace it.
                    activity?.SetStatus(ActivityStatusCode.Error, "no reply within the request timeout");
                    LogNoReply(n, _options.RequestTimeout.TotalSeconds);
                    socket.Dispose();
                    socket = CreateSocket(endpoint);
                }

                if (stoppingToken.WaitHandle.WaitOne(_options.Interval))
                {
                    break;
                }
            }

            LogDone(_options.RequestCount, answered);
            return answered;
        }
        finally
        {
            socket.Dispose();
        }
    }

    private string? Receive(RequestSocket socket, CancellationToken stoppingToken)
    {
        // Wait in short slices so that shutdown is not held up by a pending request.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < _options.RequestTimeout && !stoppingToken.IsCancellationRequested)
        {
            if (socket.TryReceiveFrameString(ReceiveSlice, out var reply))
            {
                return reply;
            }
        }

        return null;
    }

    private static RequestSocket CreateSocket(string endpoint)
    {
        var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(endpoint);
        return socket;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SSH tunnel up: {Server} (host key {Fingerprint}), {Local} -> {Remote}")]
    private partial void LogTunnelUp(string server, string fingerprint, string local, string remote);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH connect attempt {Attempt} failed, retrying in {DelaySeconds:0.0} s: {Reason}")]
    private partial void LogConnectRetry(int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "SSH tunnel cannot be established: {Reason}")]
    private partial void LogTunnelFailed(Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forward failed: {Reason}")]
    private partial void LogForwardFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sending request {Sequence} ...")]
    private partial void LogSending(int sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Received reply {Sequence} [ {Reply} ]")]
    private partial void LogReply(int sequence, string reply);

    [LoggerMessage(Level = LogLevel.Error, Message = "No reply to request {Sequence} within {TimeoutSeconds} s; recreating the REQ socket")]
    private partial void LogNoReply(int sequence, double timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Done: sent {Count} requests, {Answered} answered")]
    private partial void LogDone(int count, int answered);
}
