using System.Diagnostics;
using Microsoft.Extensions.Options;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// Keeps the client's tunnel up with a <see cref="SelfHealingForward"/> (logs in to the bastion,
/// again after the session dies, with backoff and jitter, on the same local ports; one port per
/// server replica over the one session) and runs one <see cref="RequestLoop"/> lane per port.
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
    TunnelHealth health,
    ILogger<RequestClient> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = tunnelSettings.Value;
        var remotes = settings.ParseRemoteEndpoints();
        var options = settings.ToSshTunnelOptions();
        // One local port for the client's life: the session under it is replaced when it dies,
        // and the REQ socket reconnects by itself (docs/reliability.md).
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var forward = SelfHealingForward.Start(options, remotes, settings.ToHealingOptions(), ct => ConnectOnceAsync(options, ct));
        // The forward raises its events one at a time, so this needs no lock.
        string? lastRetryReason = null;
        // The health check follows the forward itself (sessions, refused targets, now, not a window after).
        health.Attach(forward);
        forward.Connected += (_, session) =>
        {
            lastRetryReason = null;
            for (var lane = 0; lane < remotes.Count; lane++)
            {
                LogTunnelUp(session.Server.ToString(), session.HostKeyFingerprint, forward.LocalEndpoints[lane].ToString(), remotes[lane].ToString(), session.FastPath);
            }
        };
        forward.Disconnected += (_, reason) =>
        {
            var asked = reason == SelfHealingForward.ReconnectAskedFor;
            ClientTelemetry.SshDisconnects.Add(1, new KeyValuePair<string, object?>(ClientTelemetry.DisconnectReason, asked ? "reconnect" : "error"));
            LogTunnelClosed(asked ? "reconnect" : reason);
        };
        forward.ConnectRetry += (_, e) =>
        {
            // A state change is news, the same failure again on the backoff is not: one warning
            // per outage (and per new reason), the repeats at Debug.
            if (e.Error.Message == lastRetryReason)
            {
                LogConnectRetryAgain(e.RetryDelay.TotalSeconds, e.Error.Message);
            }
            else
            {
                lastRetryReason = e.Error.Message;
                LogConnectRetry(e.RetryDelay.TotalSeconds, e.Error.Message);
            }
        };
        forward.ForwardFailed += (_, e) => RecordForwardFailure(e);
        forward.ForwardRecovered += (_, target) => LogForwardRecovered(target.ToString());
        forward.Faulted += (_, e) =>
        {
            // Host key, credential and key-file errors are not retried: they need a person.
            LogTunnelFailed(e, e.Message);
            try
            {
                running.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Events are raised on their own thread: this one can come after ExecuteAsync ended.
            }
        };
        commands.ReconnectRequested += forward.Reconnect;
        try
        {
            await forward.WaitUntilUpAsync(running.Token).ConfigureAwait(false);
            // NetMQ sockets belong to one thread: each lane on a dedicated one, across reconnects.
            var lanes = Enumerable.Range(0, remotes.Count).Select(lane => Task.Factory.StartNew(
                () => RunLane(forward, lane, options.Server, running.Token), running.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default));
            await Task.WhenAll(lanes).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
            // Shutdown, or the forward gave up (logged above).
        }
        catch (SshTunnelException)
        {
            // The forward gave up before its first session (logged by Faulted).
        }
        finally
        {
            commands.ReconnectRequested -= forward.Reconnect;
            health.Down(stoppingToken.IsCancellationRequested ? "shutdown" : forward.Fault?.Message ?? "stopped");
        }
    }

    private void RunLane(SelfHealingForward forward, int lane, SshServerAddress bastion, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                loop.Run(forward, lane, bastion, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Unexpected (a NetMQ failure, say): start the lane again with a new socket.
                LogLoopFailed(ex);
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
            }
        }
    }

    private void RecordForwardFailure(SshForwardException ex)
    {
        LogForwardFailed(ex.Message);
        ClientTelemetry.ForwardFailures.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.ErrorType, ex.InnerException?.GetType().FullName ?? ex.GetType().FullName));
    }

    private static async Task<SshTunnelSession> ConnectOnceAsync(SshTunnelOptions options, CancellationToken cancellationToken)
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "SSH connect attempt failed: {Reason}; retrying with backoff (next in {DelaySeconds:0.0} s; further attempts failing the same way are logged at Debug)")]
    private partial void LogConnectRetry(double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "SSH connect attempt failed again, retrying in {DelaySeconds:0.0} s: {Reason}")]
    private partial void LogConnectRetryAgain(double delaySeconds, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "SSH tunnel cannot be established: {Reason}")]
    private partial void LogTunnelFailed(Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "A request lane failed; starting it again")]
    private partial void LogLoopFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forward failed: {Reason}; new connections are held and retried with backoff")]
    private partial void LogForwardFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Forward to {Target} relays again")]
    private partial void LogForwardRecovered(string target);
}
