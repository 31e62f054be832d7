using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// Runs one <see cref="RequestLoop"/> lane per local endpoint of the client's
/// <see cref="SshTunnel"/> (<c>AddSshTunnel("server")</c>: it logs in to the bastion, again after
/// the session dies, with backoff and jitter, on the same local ports; one port per server
/// replica over the one session), from its first session until the host stops or the tunnel gives up.
/// </summary>
/// <remarks>
/// One REQ socket per replica, rather than one socket connected to every replica: a REQ socket
/// has one request in flight, so ZeroMQ's round-robin over its peers would still serve one
/// request at a time; a lane per replica keeps every replica busy and each lane keeps its own
/// Lazy Pirate retries (docs/patterns.md, "Scale-out").
/// </remarks>
public sealed partial class RequestClient(
    SshTunnel tunnel,
    RequestLoop loop,
    ClientCommands commands,
    ILogger<RequestClient> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        void OnStateChanged(object? sender, SshTunnelStateChangedEventArgs e)
        {
            var state = e.State;
            // Host key, credential and key-file errors are not retried (the tunnel logged why): the lanes stop.
            if (state.Status == SshTunnelStatus.Faulted)
            {
                try
                {
                    running.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Raised on the tunnel's event thread: this one can come after ExecuteAsync ended.
                }
            }
        }

        tunnel.StateChanged += OnStateChanged;
        commands.ReconnectRequested += tunnel.Reconnect;
        try
        {
            await tunnel.WaitUntilUpAsync(Timeout.InfiniteTimeSpan, running.Token).ConfigureAwait(false);
            // NetMQ sockets belong to one thread: each lane on a dedicated one, across reconnects.
            var lanes = Enumerable.Range(0, tunnel.LocalEndpoints.Count).Select(lane => Task.Factory.StartNew(
                () => RunLane(lane, running.Token), running.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default));
            await Task.WhenAll(lanes).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
            // Shutdown, or the tunnel gave up (it logged why).
        }
        catch (SshTunnelException)
        {
            // The tunnel gave up before its first session (it logged why).
        }
        finally
        {
            commands.ReconnectRequested -= tunnel.Reconnect;
            tunnel.StateChanged -= OnStateChanged;
        }
    }

    private void RunLane(int lane, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                loop.Run(tunnel, lane, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Unexpected (a NetMQ failure, say): start the lane again with a new socket.
                LogLoopFailed(ex);
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A request lane failed; starting it again")]
    private partial void LogLoopFailed(Exception exception);
}
