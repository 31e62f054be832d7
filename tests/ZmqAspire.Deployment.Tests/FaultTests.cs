using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// Fault injection with real containers: the compose deployment's bastion and server are
/// restarted, paused and stopped under a stream of requests (<see cref="FaultStream"/>). No
/// request may be lost (every one is answered or fails with a clear error) and none may be
/// worked on twice (counted from the server's log); each test prints its recovery time and adds
/// a row to artifacts/test-results/fault-figures.md.
/// </summary>
/// <remarks>
/// Compose rather than the AppHost: its containers are plain Docker containers with fixed names
/// and a fixed published SSH port, so <c>docker-compose restart/pause/stop</c> fault them
/// exactly, with no orchestrator restarting or re-proxying them behind the test's back.
/// </remarks>
[Collection(FaultCollection.Name)]
public sealed class FaultTests(FaultFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public Task Bastion_restarted_mid_stream() =>
        RunAsync("bastion restarted", TimeSpan.FromSeconds(2), maxRetries: 2, () => ComposeAsync("restart", "-t", "1", "bastion"));

    [Fact]
    public Task Bastion_paused_30_s_then_resumed() =>
        RunAsync("bastion paused 30 s", TimeSpan.FromSeconds(2), maxRetries: 2, async () =>
        {
            await ComposeAsync("pause", "bastion");
            await Task.Delay(TimeSpan.FromSeconds(30));
            await ComposeAsync("unpause", "bastion");
        });

    [Fact]
    public Task Server_restarted_mid_stream() =>
        RunAsync("server restarted", TimeSpan.FromSeconds(2), maxRetries: 2, () => ComposeAsync("restart", "-t", "2", "server"));

    [Fact]
    public async Task Server_stopped_longer_than_the_retry_budget_then_back()
    {
        // Budget: 1 s x 3 attempts; the server is away for 10 s.
        var figures = await RunAsync("server stopped 10 s (> 3 s budget)", TimeSpan.FromSeconds(1), maxRetries: 2, async () =>
        {
            await ComposeAsync("stop", "-t", "2", "server");
            await Task.Delay(TimeSpan.FromSeconds(10));
            await ComposeAsync("start", "server");
        });

        Assert.True(figures.FailedClear > 0, "requests sent while the server was away failed, clearly");
    }

    [Fact]
    public async Task Server_survives_garbage_a_truncated_handshake_and_an_oversize_message()
    {
        // Through the tunnel, the only way to the server's port: the bad peers first, then the stream.
        var started = await ServerStartedAtAsync();
        await using var forward = await fixture.OpenForwardAsync();
        using (var garbage = new TcpClient())
        {
            await garbage.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
            await garbage.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: server\r\n\r\n"));
            output.WriteLine($"garbage: connection {(await EndsClosedAsync(garbage.GetStream()) ? "closed by the server" : "still open after 10 s")}");
        }

        using (var truncated = new TcpClient())
        {
            // The first 10 bytes of a ZMTP 3 greeting (signature), then silence and close.
            await truncated.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
            await truncated.GetStream().WriteAsync(new byte[] { 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F });
            await Task.Delay(500);
        }

        using (var oversize = new RequestSocket())
        {
            // Above the server's 16 MiB ZMQ_MAXMSGSIZE: it drops this peer, and no reply comes.
            oversize.Options.Linger = TimeSpan.Zero;
            oversize.Connect(forward.LocalEndpoint.ToString());
            oversize.SendFrame(new byte[(16 * 1024 * 1024) + 1]);
            Assert.False(oversize.TryReceiveFrameBytes(TimeSpan.FromSeconds(5), out _), "the server answered an oversize request");
        }

        var figures = await RunAsync("after garbage, truncated greeting, 16 MiB + 1 request", TimeSpan.FromSeconds(2), maxRetries: 2, () => Task.CompletedTask);
        Assert.Equal(0, figures.FailedClear);
        var log = (await fixture.Project.ComposeAsync(["logs", "--no-color", "server"])).Output;
        Assert.DoesNotContain("Unhandled exception", log, StringComparison.Ordinal);
        // Not crashed and restarted by Docker's restart policy behind our back: the same process.
        Assert.Equal(started, await ServerStartedAtAsync());
    }

    private async Task<string> ServerStartedAtAsync()
    {
        var id = await fixture.Project.ContainerIdAsync("server");
        return (await Cli.RunCheckedAsync("docker", ["inspect", "-f", "{{.State.StartedAt}} {{.RestartCount}}", id])).StandardOutput.Trim();
    }

    private static async Task<bool> EndsClosedAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<FaultFigures> RunAsync(string fault, TimeSpan requestTimeout, int maxRetries, Func<Task> inject)
    {
        await using var stream = await FaultStream.StartAsync(fixture, fault.Split(' ')[0], requestTimeout, maxRetries);
        Assert.NotNull(await stream.WaitForRepliesAfterAsync(DateTime.UtcNow, 5, RecoveryTimeout));
        await Task.Delay(Settle);

        var watch = Stopwatch.StartNew();
        await inject();
        var faultEnded = DateTime.UtcNow;
        output.WriteLine($"{fault}: fault injected for {watch.Elapsed.TotalSeconds:0.0} s");

        var recovered = await stream.WaitForRepliesAfterAsync(faultEnded, 5, RecoveryTimeout);
        await Task.Delay(Settle);
        var figures = await stream.StopAsync(fixture.Project, fault, faultEnded);
        figures.Report(output);
        foreach (var failure in stream.Failed.Take(3))
        {
            output.WriteLine($"failed clearly: request {failure.Sequence}: {failure.Error}");
        }

        foreach (var failure in stream.ForwardFailures.Distinct().Take(3))
        {
            output.WriteLine($"forward reported: {failure}");
        }

        Assert.True(recovered is not null, $"no reply within {RecoveryTimeout.TotalSeconds} s after the fault ended");
        Assert.True(figures.Lost == 0, $"{figures.Lost} request(s) lost: {string.Join("; ", figures.Unclear)}");
        Assert.Equal(0, figures.Duplicated);
        return figures;
    }

    private async Task ComposeAsync(params string[] arguments)
    {
        var result = await fixture.Project.ComposeAsync(arguments);
        Assert.True(result.ExitCode == 0, $"docker-compose {string.Join(' ', arguments)} failed:\n{result.Output}");
    }
}

/// <summary>One compose deployment (server and bastion only, 0.05 s of work per request) for the fault tests.</summary>
public sealed class FaultFixture : IAsyncLifetime
{
    private ComposeProject? _project;

    internal ComposeProject Project => _project ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _project = await ComposeProject.CreateAsync("zmqfault");
        _project.ServerWorkTime = "00:00:00.05";
        var up = await _project.ComposeAsync(["up", "-d", "--no-build", "server", "bastion"]);
        Assert.True(up.ExitCode == 0, "docker-compose up failed:\n" + up.Output);
    }

    /// <summary>A self-healing forward to the server through the deployment's bastion.</summary>
    internal async Task<SelfHealingForward> OpenForwardAsync()
    {
        var forward = SelfHealingForward.Start(
            FaultStream.TunnelOptions(Project), TcpEndpoint.Parse("tcp://server:5556"), new SelfHealingForwardOptions { ReconnectDelay = TimeSpan.FromMilliseconds(200), MaxReconnectDelay = TimeSpan.FromSeconds(2) });
        await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(90));
        return forward;
    }

    public async Task DisposeAsync()
    {
        if (_project is not null)
        {
            await _project.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<FaultFixture>
{
    public const string Name = "Faults";
}
