using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;
using ZmqAspire.Tunneling;
using Tunnel = ZmqAspire.Tunneling.SshTunnel;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>
/// Stopping the service (Aspire's Stop command, SIGTERM) ends the tunnel at once whatever it is
/// doing, so the host's shutdown is not held by a login that waits on a silent bastion. Replays
/// microsoft/aspire#6437 ("processes take long time to shut down") and #10923 (a BackgroundService
/// that does not stop gracefully in Aspire) for our hosted service: a container runtime kills a
/// service that has not stopped 10 s after SIGTERM, which is also our default ConnectTimeout.
/// </summary>
[Collection(TunnelSshdCollection.Name)]
public sealed class ShutdownTests(TunnelSshd sshd, ITestOutputHelper output)
{
    /// <summary>Far below the login timeout (10 s) the stop must not wait out.</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task StopWhileTheBastionAcceptsButNeverAnswersReturnsWithoutWaitingForTheLoginTimeout()
    {
        // A bastion whose TCP accept works but whose sshd never sends its banner (frozen, overloaded).
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = silent.AcceptSocketAsync();
        var connectionString = sshd.ConnectionString("tcp://127.0.0.1:5556")
            .Replace(sshd.SshServer, $"{SshdUser(sshd.SshServer)}@127.0.0.1:{port}", StringComparison.Ordinal);
        var builder = TunnelHost.Builder(("ConnectionStrings:server", connectionString));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        using var connection = await accepted.WaitAsync(TunnelHost.Patience);
        await Task.Delay(500); // the login is under way, waiting for the banner
        Assert.Equal(SshTunnelStatus.Connecting, tunnel.State.Status);

        var clock = Stopwatch.StartNew();
        await host.StopAsync();
        output.WriteLine($"StopAsync returned after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(clock.Elapsed < Prompt, $"StopAsync took {clock.Elapsed.TotalSeconds:0.0} s while a login waited on a silent bastion.");
    }

    private static string SshdUser(string sshServer) => sshServer[..sshServer.IndexOf('@', StringComparison.Ordinal)];
}
