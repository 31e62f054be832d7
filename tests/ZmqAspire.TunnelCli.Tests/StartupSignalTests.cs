using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>
/// SIGTERM before the tunnel is up ends zmq-tunnel as promptly as after: a first login waiting on
/// a bastion that accepted the TCP connection but never sends its banner must not hold the exit
/// for the login timeout. Replays zeromq/pyzmq#717 ("ssh tunnel processes do not exit on
/// connection close / crash": the tunnel process outlived the program that wanted it) for the
/// moment a supervisor (systemd, a container runtime, Aspire) stops a tunnel that is still starting.
/// </summary>
[Collection(CliSshdCollection.Name)]
public sealed class StartupSignalTests(CliSshdFixture sshd, ITestOutputHelper output)
{
    [Fact]
    public async Task SIGTERM_during_the_first_login_to_a_silent_bastion_exits_within_a_second()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = silent.AcceptSocketAsync();
        var server = string.Create(CultureInfo.InvariantCulture, $"{sshd.Server[..sshd.Server.IndexOf('@', StringComparison.Ordinal)]}@127.0.0.1:{port}");
        using var tunnel = TunnelProcess.Start([server, "tcp://127.0.0.1:5556", "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath]);
        using var connection = await accepted.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(500); // the login waits for the banner

        await ExitsCleanlyWithinASecondOfSigtermAsync(tunnel);
    }

    [Fact]
    public async Task SIGTERM_during_the_start_up_probe_of_a_silent_target_exits_within_a_second()
    {
        // A target that accepts and says nothing: the probe waits up to 3 s for a ZMTP greeting.
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var probed = target.AcceptSocketAsync();
        var endpoint = string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{((IPEndPoint)target.LocalEndpoint).Port}");
        using var tunnel = TunnelProcess.Start([sshd.Server, endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath]);
        using var probe = await probed.WaitAsync(TimeSpan.FromSeconds(60)); // logged in; the probe's channel reached the target

        await ExitsCleanlyWithinASecondOfSigtermAsync(tunnel);
    }

    /// <summary>SIGTERM ends the process within a second (issue #17), with exit code 0.</summary>
    private async Task ExitsCleanlyWithinASecondOfSigtermAsync(TunnelProcess tunnel)
    {
        var watch = Stopwatch.StartNew();
        tunnel.Signal("TERM");
        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(30));
        watch.Stop();
        output.WriteLine($"exited {watch.ElapsedMilliseconds} ms after SIGTERM, exit code {tunnel.Process.ExitCode}\n{tunnel.Describe}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"exited {watch.ElapsedMilliseconds} ms after SIGTERM\n{tunnel.Describe}");
        Assert.True(tunnel.Process.ExitCode == 0, tunnel.Describe);
    }
}
