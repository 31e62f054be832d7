using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ZmqAspire.Tunneling;

namespace ZmqAspire.TunnelCli;

/// <summary>
/// One zmq-tunnel run: opens the library's <see cref="SelfHealingForward"/> (same local ports
/// for its whole life, logins again with backoff and jitter), reports the forwards once they are
/// open, then waits for a signal, a fault, or the child command's end.
/// </summary>
/// <param name="settings">The checked arguments.</param>
public sealed class TunnelRunner(TunnelSettings settings)
{
    /// <summary>
    /// The shares of the one second SIGINT/SIGTERM allow: the child's grace before it is killed,
    /// then closing the forward (the OS closes what is left at exit), then the telemetry flush
    /// (<see cref="Telemetry"/>, 2 x 100 ms).
    /// </summary>
    private static readonly TimeSpan ChildGrace = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan CloseBudget = TimeSpan.FromMilliseconds(300);

    /// <summary>How long the start-up probe waits for a target to speak first (ZMTP peers send their greeting at once).</summary>
    private static readonly TimeSpan ProbeWait = TimeSpan.FromSeconds(3);

    private readonly Reporter _report = new(settings.Json, forwardsToStderr: settings.Child.Count > 0);
    private readonly TaskCompletionSource<int> _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _signalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _signal;

    /// <summary>Runs until a signal, a fault or the child's end, and returns the exit code.</summary>
    /// <returns>The process exit code (<see cref="ExitCodes"/>, or the child's).</returns>
    public async Task<int> RunAsync()
    {
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        string? passphrase = null;
        if (settings.AskPassphrase)
        {
            passphrase = Terminal.ReadSecret($"Passphrase for {settings.IdentityPath ?? "the default key"}: ");
        }

        var options = new SshTunnelOptions
        {
            Server = settings.Server,
            HostKey = settings.HostKey,
            PrivateKeyPath = settings.IdentityPath,
            PrivateKeyPassphrase = passphrase,
            Password = settings.Password,
            ConnectTimeout = settings.ConnectTimeout,
        };
        var healing = new SelfHealingForwardOptions { LocalAddress = settings.Bind, LocalPorts = settings.LocalPorts, Login = ct => Telemetry.ConnectAsync(options, ct) };

        using var telemetry = Telemetry.FromEnvironment();
        SelfHealingForward forward;
        try
        {
            forward = SelfHealingForward.Start(options, settings.Targets, healing);
        }
        catch (SocketException ex)
        {
            return Fail($"cannot listen on {settings.Bind}:{string.Join(',', settings.LocalPorts)}: {ex.Message}", ExitCodes.LocalPort);
        }
        catch (ArgumentException ex)
        {
            // Only reachable through SshTunnelOptions.Validate: no credential at all.
            return Fail(ex.Message, ExitCodes.Usage);
        }

        var started = false;
        var firstFailure = new TaskCompletionSource<SshTunnelException>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refusals = new ForwardRefusals();
        forward.Connected += (_, e) => telemetry.Connected(e.Session, e.SessionNumber);
        forward.Disconnected += (_, e) => telemetry.Disconnected(e.Reason, e.ReconnectRequested);
        forward.Connected += (_, e) => _report.State("connected", $"{settings.Server} (session {e.SessionNumber.ToString(CultureInfo.InvariantCulture)}, host key {e.Session.HostKeyFingerprint})");
        forward.Disconnected += (_, e) => _report.State("disconnected", e.Reason);
        forward.ConnectRetry += (_, retry) =>
        {
            if (!Volatile.Read(ref started))
            {
                // The first login is not retried: a wrong host name or port should fail the command, not hang it.
                firstFailure.TrySetResult(retry.Error);
                return;
            }

            _report.State("retrying", $"in {retry.RetryDelay.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s: {retry.Error.Message}");
        };
        forward.ForwardFailed += (_, e) =>
        {
            refusals.Add(e.Error);
            Telemetry.ForwardFailed(e.Error);
            _report.State("forward-failed", e.Error.Message);
        };
        forward.Faulted += (_, e) =>
        {
            _report.State("faulted", e.Error.Message);
            _stop.TrySetResult(ExitCodeOf(e.Error));
        };

        ChildProcess? child = null;
        HealthEndpoint? health = null;
        try
        {
            var up = forward.WaitUntilUpAsync(Timeout.InfiniteTimeSpan);
            var first = await Task.WhenAny(up, firstFailure.Task, _stop.Task).ConfigureAwait(false);
            if (first == firstFailure.Task)
            {
                return Fail(await firstFailure.Task.ConfigureAwait(false));
            }

            if (first == _stop.Task)
            {
                return await _stop.Task.ConfigureAwait(false);
            }

            try
            {
                await up.ConfigureAwait(false);
            }
            catch (SshTunnelException error)
            {
                return Fail(error);
            }

            if (settings.Probe)
            {
                // A signal or a fault during the probe (up to 3 s per silent target) must not wait for it.
                var probe = ProbeAllAsync(forward, refusals);
                if (await Task.WhenAny(probe, _stop.Task).ConfigureAwait(false) == _stop.Task)
                {
                    return await _stop.Task.ConfigureAwait(false);
                }

                if (await probe.ConfigureAwait(false) is { } failed)
                {
                    return Fail($"the bastion refused the forward to {settings.Targets[failed.Index]}: {failed.Error.Message}", ExitCodes.ForwardRefused);
                }
            }

            Volatile.Write(ref started, true);
            var via = settings.Server.ToString();
            for (var i = 0; i < forward.LocalEndpoints.Count; i++)
            {
                _report.Forward(Shown(forward.LocalEndpoints[i]), settings.Targets[i].ToString(), via);
            }

            if (settings.HealthPort is { } healthPort)
            {
                try
                {
                    health = HealthEndpoint.Start(healthPort, forward, settings);
                }
                catch (SocketException ex)
                {
                    return Fail($"cannot serve the health report on 127.0.0.1:{healthPort.ToString(CultureInfo.InvariantCulture)}: {ex.Message}", ExitCodes.LocalPort);
                }

                _report.State("health", $"http://127.0.0.1:{health.Port.ToString(CultureInfo.InvariantCulture)}/");
            }

            if (settings.Child.Count > 0)
            {
                try
                {
                    child = ChildProcess.Start(settings.Child, forward.LocalEndpoints);
                }
                catch (System.ComponentModel.Win32Exception ex)
                {
                    return Fail($"cannot start '{settings.Child[0]}': {ex.Message}", ExitCodes.ChildNotStarted);
                }

                _ = child.Exited.ContinueWith(t => _stop.TrySetResult(t.Result), TaskScheduler.Default);
            }

            var code = await _stop.Task.ConfigureAwait(false);
            if (child is not null && Volatile.Read(ref _signal) is var signal and not 0)
            {
                // A signal: pass it on and exit with the child's code once it is gone (or killed).
                code = await child.StopAsync(signal, ChildGrace).ConfigureAwait(false);
            }
            else if (child is not null && !child.Exited.IsCompleted)
            {
                // The tunnel faulted for good: the child cannot work without it.
                _ = await child.StopAsync(15, ChildGrace).ConfigureAwait(false);
            }
            else if (child is not null)
            {
                await WaitForRelayedConnectionsAsync(forward).ConfigureAwait(false);
            }

            return code;
        }
        finally
        {
            health?.Dispose();
            // Bounded: after a signal everything must be closed within a second; the OS closes the rest at exit.
            await Task.Run(forward.Dispose).WaitAsync(CloseBudget).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            child?.Dispose();
            if (Volatile.Read(ref _signal) != 0)
            {
                _report.State("stopped", "signal received");
            }
        }
    }

    /// <summary>Maps the library's typed errors to exit codes.</summary>
    internal static int ExitCodeOf(SshTunnelException error) => error switch
    {
        SshHostKeyRejectedException => ExitCodes.HostKeyRefused,
        SshTunnelAuthenticationException => ExitCodes.AuthenticationRefused,
        SshPrivateKeyException => ExitCodes.NoInput,
        // At login: a known_hosts file that cannot be read, or no --identity and no default key.
        SshTunnelConfigurationException => ExitCodes.NoInput,
        SshServerUnreachableException => ExitCodes.BastionUnreachable,
        SshForwardException => ExitCodes.ForwardRefused,
        _ => ExitCodes.Software,
    };

    private int Fail(SshTunnelException error) =>
        Fail(error switch
        {
            SshPrivateKeyException when NeedsPassphraseHint(error) => error.Message + " Give --ask-passphrase to type it on the terminal.",
            // The library names its own options (PrivateKeyPath, Password); say which of ours to give.
            SshTunnelConfigurationException { Setting: nameof(SshTunnelOptions.PrivateKeyPath) } => error.Message + " Give --identity FILE or --password-env VAR.",
            _ => error.Message,
        }, ExitCodeOf(error));

    private bool NeedsPassphraseHint(SshTunnelException error) =>
        !settings.AskPassphrase && error.InnerException is Renci.SshNet.Common.SshPassPhraseNullOrEmptyException;

    private int Fail(string message, int exitCode)
    {
        _report.Error(message, exitCode);
        return exitCode;
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Handled here: the process must not die before the child and the forward are closed.
        context.Cancel = true;
        Volatile.Write(ref _signal, context.Signal == PosixSignal.SIGINT ? 2 : 15);
        _stop.TrySetResult(ExitCodes.Ok);
        _signalled.TrySetResult();
    }

    /// <summary>
    /// The child ended on its own, but what it wrote just before may still sit in the forward's
    /// socket buffers and on its way through the session (zeromq/pyzmq#404: libzmq's linger only
    /// waits until the kernel took the bytes). Like <c>ssh</c> ("Waiting for forwarded connections
    /// to terminate"), wait until every relayed connection has ended (the target closed its side
    /// too), a signal, or the forward's fault; say so on stderr when it takes longer than a second.
    /// </summary>
    private async Task WaitForRelayedConnectionsAsync(SelfHealingForward forward)
    {
        var said = false;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (forward.RelayedConnections is var open and > 0 && !_signalled.Task.IsCompleted && forward.Fault is null)
        {
            if (!said && watch.Elapsed > TimeSpan.FromSeconds(1))
            {
                said = true;
                _report.State("waiting", $"the command exited; waiting for {open.ToString(CultureInfo.InvariantCulture)} relayed connection(s) to end (SIGINT/SIGTERM to stop now)");
            }

            await Task.WhenAny(_signalled.Task, Task.Delay(20)).ConfigureAwait(false);
        }
    }

    /// <summary>A wildcard bind is printed as it listens, the others as the endpoint to connect to.</summary>
    private string Shown(TcpEndpoint local) =>
        settings.Bind.Equals(IPAddress.Any) ? $"tcp://0.0.0.0:{local.Port.ToString(CultureInfo.InvariantCulture)}" : local.ToString();

    /// <summary>Probes each forward in turn; returns the first refused one.</summary>
    private static async Task<(int Index, SshForwardException Error)?> ProbeAllAsync(SelfHealingForward forward, ForwardRefusals refusals)
    {
        for (var i = 0; i < forward.LocalEndpoints.Count; i++)
        {
            if (await ProbeAsync(forward.LocalEndpoints[i], refusals).ConfigureAwait(false) is { } refused)
            {
                return (i, refused);
            }
        }

        return null;
    }

    /// <summary>
    /// Opens one connection through a forward, so that a target the bastion cannot reach (closed,
    /// or not allowed by PermitOpen) fails the start with exit 76 instead of leaving every client
    /// to time out later: SSH opens a forward's channel only when a connection arrives. A ZMTP
    /// peer speaks first (its greeting), which proves the path; a silent target is accepted
    /// after <see cref="ProbeWait"/>. The probe closes without sending anything.
    /// </summary>
    private static async Task<SshForwardException?> ProbeAsync(TcpEndpoint local, ForwardRefusals refusals)
    {
        var before = refusals.Count;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Parse(local.Host), local.Port).ConfigureAwait(false);
        using var wait = new CancellationTokenSource(ProbeWait);
        var buffer = new byte[1];
        try
        {
            var read = await socket.ReceiveAsync(buffer, wait.Token).ConfigureAwait(false);
            if (read > 0)
            {
                return null;
            }
        }
        catch (OperationCanceledException)
        {
            return refusals.Since(before);
        }
        catch (SocketException)
        {
            // Reset: fall through and look for the refusal.
        }

        // Closed without a byte: the refusal event may trail the close by a moment.
        for (var i = 0; i < 20 && refusals.Since(before) is null; i++)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        return refusals.Since(before) ?? new SshForwardException(local, "the connection was closed before the target said anything");
    }

    /// <summary>The forward failures seen so far, for the start-up probe.</summary>
    private sealed class ForwardRefusals
    {
        private readonly List<SshForwardException> _seen = [];

        public int Count
        {
            get
            {
                lock (_seen)
                {
                    return _seen.Count;
                }
            }
        }

        public void Add(SshForwardException error)
        {
            lock (_seen)
            {
                _seen.Add(error);
            }
        }

        public SshForwardException? Since(int count)
        {
            lock (_seen)
            {
                return _seen.Count > count ? _seen[count] : null;
            }
        }
    }
}
