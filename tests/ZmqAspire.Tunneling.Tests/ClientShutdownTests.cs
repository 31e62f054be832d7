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

    /// <summary>The exit with a silent collector: the 1 s flush budget on top of a normal stop (0.7-1 s), well under the exporter's 10 s.</summary>
    private static readonly TimeSpan SilentCollectorBound = TimeSpan.FromSeconds(5);

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

    /// <summary>
    /// The OTLP endpoint (the dashboard, a collector) accepts connections and never answers, as a
    /// frozen one does: the client's last export must not hold its exit for the exporter's 10 s
    /// timeout (10.6 s measured before the bounded flush), which is also when a container runtime
    /// kills a container it asked to stop. Replays open-telemetry/opentelemetry-dotnet#2402 and
    /// open-telemetry/opentelemetry-python#2024 (an absent collector slows or hangs the
    /// application) and microsoft/aspire#6437 (processes slow to shut down).
    /// </summary>
    [Fact]
    public async Task Sigterm_with_a_collector_that_never_answers_stops_the_client_within_seconds()
    {
        using var server = ReplyServer.Start();
        // An OTLP endpoint that accepts connections and never answers (a frozen dashboard or collector).
        using var collector = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        collector.Start();
        var accepted = new List<System.Net.Sockets.Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                var socket = await collector.AcceptSocketAsync();
                lock (accepted)
                {
                    accepted.Add(socket);
                }
            }
        });
        var endpoint = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{((System.Net.IPEndPoint)collector.LocalEndpoint).Port}");
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log, environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        });
        Assert.True(await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Received reply 3 ["), Generous), "no replies:\n" + ClientProcess.Text(log));
        await Task.Delay(TimeSpan.FromSeconds(1));
        int connections;
        lock (accepted)
        {
            connections = accepted.Count;
        }

        var seconds = await StopAsync(client);
        output.WriteLine($"collector silent ({connections} connection(s) to it): exited {seconds:0.00} s after SIGTERM, exit code {client.ExitCode}");
        Assert.True(connections > 0, "the client never exported to the collector: the test proves nothing");
        Assert.True(seconds < SilentCollectorBound.TotalSeconds, $"the client exited {seconds:0.0} s after SIGTERM with a silent collector");
        lock (accepted)
        {
            accepted.ForEach(s => s.Dispose());
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
