using System.Diagnostics;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// Keeps the client's tunnel up: logs in to the bastion (retrying while it is unreachable),
/// opens one local forward per server replica over that one session (<see cref="LocalForwardSet"/>)
/// and runs one <see cref="RequestLoop"/> lane per forward until the session is lost or a
/// reconnect is asked for, then connects again.
/// </summary>
/// <remarks>
/// One REQ socket per replica, rather than one socket connected to every replica: a REQ socket
/// has one request in flight, so ZeroMQ's round-robin over its peers would still serve one
/// request at a time; a lane per replica keeps every replica busy and each lane keeps its own
/// Lazy Pirate retries (docs/patterns.md, "Scale-out").
/// </remarks>
public sealed partial class RequestClient(
    IOptions<TunnelSettings> tunnelSettings,
    RequestLoop loop,
    ClientCommands commands,
    TunnelState state,
    ILogger<RequestClient> logger) : BackgroundService
{
    private static readonly TimeSpan SessionPoll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReconnectPause = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = tunnelSettings.Value;
        var remotes = settings.ParseRemoteEndpoints();
        var options = settings.ToSshTunnelOptions();
        while (!stoppingToken.IsCancellationRequested)
        {
            SshTunnelSession session;
            try
            {
                session = await ConnectWithRetryAsync(options, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (SshTunnelException ex)
            {
                // Host key, credential and key-file errors are not retried: they need a person.
                LogTunnelFailed(ex, ex.Message);
                state.Down(ex.Message);
                return;
            }

            var reason = await RunTunnelAsync(session, remotes, stoppingToken).ConfigureAwait(false);
            ClientTelemetry.SshDisconnects.Add(1, new KeyValuePair<string, object?>(ClientTelemetry.DisconnectReason, reason));
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            LogTunnelClosed(reason);
            await Task.Delay(ReconnectPause, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs one tunnel lifetime; returns why it ended: <c>error</c>, <c>reconnect</c> or <c>shutdown</c>.</summary>
    private async Task<string> RunTunnelAsync(SshTunnelSession session, IReadOnlyList<TcpEndpoint> remotes, CancellationToken stoppingToken)
    {
        using (session)
        {
            LocalForwardSet forwards;
            try
            {
                forwards = LocalForwardSet.Open(session, remotes.Select(r => r.ToString()));
            }
            catch (SshForwardException ex)
            {
                RecordForwardFailure(ex);
                state.Down(ex.Message);
                return "error";
            }

            var reconnect = commands.BeginTunnel();
            using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, reconnect);
            var lost = "the SSH session closed";
            void OnForwardFailed(object? sender, SshForwardException e) => RecordForwardFailure(e);
            void OnSessionError(object? sender, Exception e)
            {
                lost = $"SSH session error: {e.Message}";
                state.Down(lost);
                try
                {
                    lifetime.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Raised while this lifetime was already ending.
                }
            }

            foreach (var forward in forwards.Forwards)
            {
                forward.Failed += OnForwardFailed;
            }

            session.ErrorOccurred += OnSessionError;
            try
            {
                state.Connected(session, forwards.Forwards);
                foreach (var forward in forwards.Forwards)
                {
                    LogTunnelUp(session.Server.ToString(), session.HostKeyFingerprint, forward.LocalEndpoint.ToString(), forward.Remote.ToString(), session.FastPath);
                }

                var watch = WatchSessionAsync(session, lifetime);
                // A lane runs until the lifetime ends; one that ends first crashed, and ends the others.
                var lanes = forwards.Forwards.Select(forward => Task.Factory.StartNew(
                    () => loop.Run(session, forward, lifetime.Token), lifetime.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
                var first = await Task.WhenAny(lanes).ConfigureAwait(false);
                if (first.Exception?.InnerException is { } crash)
                {
                    // Unexpected (a NetMQ failure, say): start over with a new session and sockets.
                    lost = $"request loop failed: {crash.Message}";
                    LogLoopFailed(crash);
                }

                await lifetime.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(lanes).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            finally
            {
                session.ErrorOccurred -= OnSessionError;
                foreach (var forward in forwards.Forwards)
                {
                    forward.Failed -= OnForwardFailed;
                }

                forwards.Dispose();
            }

            var reason = stoppingToken.IsCancellationRequested ? "shutdown" : reconnect.IsCancellationRequested ? "reconnect" : "error";
            state.Down(reason == "reconnect" ? "reconnecting, as asked" : lost);
            return reason;
        }
    }

    // SSH.NET raises ErrorOccurred for most failures; polling IsConnected also catches a
    // connection that closed quietly.
    private async Task WatchSessionAsync(SshTunnelSession session, CancellationTokenSource lifetime)
    {
        while (!lifetime.IsCancellationRequested)
        {
            await Task.Delay(SessionPoll, lifetime.Token).ConfigureAwait(false);
            if (!session.IsConnected)
            {
                state.Down("the SSH session is disconnected");
                await lifetime.CancelAsync().ConfigureAwait(false);
            }
        }
    }

    private void RecordForwardFailure(SshForwardException ex)
    {
        LogForwardFailed(ex.Message);
        state.ForwardFailed(ex.Message);
        ClientTelemetry.ForwardFailures.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.ErrorType, ex.InnerException?.GetType().FullName ?? ex.GetType().FullName));
    }

    private async Task<SshTunnelSession> ConnectWithRetryAsync(SshTunnelOptions options, CancellationToken stoppingToken)
    {
        // The bastion may still be starting (or restarting): retry unreachability with exponential backoff and jitter.
        var pipeline = new ResiliencePipelineBuilder<SshTunnelSession>()
            .AddRetry(new RetryStrategyOptions<SshTunnelSession>
            {
                ShouldHandle = new PredicateBuilder<SshTunnelSession>().Handle<SshServerUnreachableException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = TimeSpan.FromSeconds(5),
                OnRetry = args =>
                {
                    var message = args.Outcome.Exception?.Message ?? "unknown error";
                    state.Down(message);
                    LogConnectRetry(args.AttemptNumber + 1, args.RetryDelay.TotalSeconds, message);
                    return default;
                },
            })
            .Build();
        return await pipeline.ExecuteAsync(ct => ConnectOnceAsync(options, ct), stoppingToken).ConfigureAwait(false);
    }

    private static async ValueTask<SshTunnelSession> ConnectOnceAsync(SshTunnelOptions options, CancellationToken cancellationToken)
    {
        using var activity = ClientTelemetry.Source.StartActivity("ssh connect", ActivityKind.Client);
        activity?.SetTag(TelemetryAttributes.ServerAddress, options.Server.Host);
        activity?.SetTag(TelemetryAttributes.ServerPort, options.Server.Port);
        try
        {
            var session = await SshTunnelSession.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            activity?.SetTag("zmqaspire.ssh.host_key", session.HostKeyFingerprint);
            ClientTelemetry.SshConnects.Add(1);
            return session;
        }
        catch (Exception ex) when (ex is SshTunnelException)
        {
            var errorType = ex.GetType().FullName;
            activity?.SetTag(TelemetryAttributes.ErrorType, errorType);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.AddException(ex);
            ClientTelemetry.SshConnectFailures.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.ErrorType, errorType));
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SSH tunnel up: {Server} (host key {Fingerprint}), {Local} -> {Remote}, fast path: {FastPath}")]
    private partial void LogTunnelUp(string server, string fingerprint, string local, string remote, TunnelFastPath fastPath);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH tunnel closed ({Reason}); connecting again")]
    private partial void LogTunnelClosed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH connect attempt {Attempt} failed, retrying in {DelaySeconds:0.0} s: {Reason}")]
    private partial void LogConnectRetry(int attempt, double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "SSH tunnel cannot be established: {Reason}")]
    private partial void LogTunnelFailed(Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The request loop failed; reconnecting")]
    private partial void LogLoopFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forward failed: {Reason}")]
    private partial void LogForwardFailed(string reason);
}
