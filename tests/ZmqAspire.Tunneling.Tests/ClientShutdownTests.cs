using System.Diagnostics;
using System.Globalization;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The real client stops promptly on SIGTERM (what <c>docker stop</c> and Aspire send) even when
/// a request is in flight and will never be answered, or when the SSH connection is frozen (the
/// bastion paused): REQ sockets close with linger 0 and no SSH call is left to wait on. The bound
/// asserted is a hang check (30 s, docker's grace period is 10 s); the measured time is printed.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientShutdownTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan HangBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sigterm_with_a_request_in_flight_stops_the_client()
    {
        // A REP peer that takes the request and never answers it.
        using var silent = new ResponseSocket();
        silent.Options.Linger = TimeSpan.Zero;
        var port = silent.BindRandomPort("tcp://127.0.0.1");
        using var client = ClientProcess.Start(sshd, string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}"), out var log, requestTimeout: "00:05:00");
        Assert.True(silent.TryReceiveFrameString(Generous, out _), "the request never arrived:\n" + ClientProcess.Text(log));

        var seconds = await StopAsync(client);
        output.WriteLine($"request in flight: exited {seconds:0.00} s after SIGTERM, exit code {client.ExitCode}");
        Assert.Empty(ClientKillTests.Listeners(client.Id));
    }

    [Fact]
    public async Task Sigterm_while_the_ssh_connection_is_frozen_stops_the_client()
    {
        using var server = ReplyServer.Start();
        var before = sshd.SessionProcesses();
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log);
        Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Received reply 1 ["), Generous), "no replies:\n" + ClientProcess.Text(log));

        // Freeze the client's sshd session (its monitor and the child that relays): as a paused
        // bastion, the TCP connection stays open and nothing answers.
        var pids = sshd.SessionProcesses().Except(before).SelectMany(ProcFs.Tree).ToList(); // the monitor and the child it forked
        Assert.NotEmpty(pids);
        using (FrozenProcesses.Freeze(pids))
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var seconds = await StopAsync(client);
            output.WriteLine($"SSH connection frozen: exited {seconds:0.00} s after SIGTERM, exit code {client.ExitCode}");
        }
    }

    private static async Task<double> StopAsync(Process client)
    {
        var watch = Stopwatch.StartNew();
        ClientProcess.Signal(client.Id, "TERM");
        using var cts = new CancellationTokenSource(HangBound);
        try
        {
            await client.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            client.Kill(entireProcessTree: true);
            Assert.Fail($"the client still ran {HangBound.TotalSeconds} s after SIGTERM");
        }

        return watch.Elapsed.TotalSeconds;
    }
}
