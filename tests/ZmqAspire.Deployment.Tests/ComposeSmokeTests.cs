using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The compose deployment from up to down: the client gets the seed's replies through the
/// bastion, the server is reachable only through the bastion, and down -v leaves nothing.
/// </summary>
public sealed class ComposeSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Compose_deployment_answers_through_the_bastion_only_and_leaves_nothing_behind()
    {
        var project = await ComposeProject.CreateAsync("zmqsmoke");
        try
        {
            output.WriteLine($"$ docker-compose -p {project.Name} up -d --no-build");
            output.WriteLine((await project.UpAsync()).Output);

            // The client's replies, as the seed printed them.
            var clientLog = await project.WaitForLogAsync("client", "Received reply 2 [ World from 5556 ]", TimeSpan.FromSeconds(90));
            output.WriteLine(string.Join('\n', clientLog.Split('\n').Where(l => l.Contains("SSH tunnel server up") || l.Contains("Received reply")).Take(6)));
            Assert.Contains("Received reply 0 [ World from 5556 ]", clientLog, StringComparison.Ordinal);
            Assert.Contains("Received reply 2 [ World from 5556 ]", clientLog, StringComparison.Ordinal);

            // The image is trimmed: the fast path's reflection into SSH.NET must have survived it.
            Assert.Contains("fast path: QuickAck, BlockingSocket, ForwardListener, OwnChannels, HeldWrites)", clientLog, StringComparison.Ordinal);

            output.WriteLine((await project.ComposeAsync(["ps"])).Output);
            await AssertServerOnlyBehindBastionAsync(project);
        }
        finally
        {
            var down = await project.DownAsync();
            output.WriteLine($"$ docker-compose -p {project.Name} down -v\n{down.Output}");
            var left = await project.LeftoversAsync();
            await project.DisposeAsync();
            Assert.True(down.ExitCode == 0, "docker-compose down failed:\n" + down.Output);
            Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
        }
    }

    private async Task AssertServerOnlyBehindBastionAsync(ComposeProject project)
    {
        // No port of the server is published, and nothing on the host answers on its port.
        var server = await InspectAsync(await project.ContainerIdAsync("server"));
        Assert.Empty(server.GetProperty("HostConfig").GetProperty("PortBindings").EnumerateObject());
        using (var tcp = new TcpClient())
        {
            var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(IPAddress.Loopback, 5556));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            output.WriteLine($"host -> 127.0.0.1:5556: {refused.SocketErrorCode}; server published ports: none");
        }

        // The server is on the internal backend network only; the bastion alone is also on the
        // edge network, where the client is; from there the server's name does not even resolve.
        Assert.Equal([$"{project.Name}_backend"], Networks(server));
        var bastion = await InspectAsync(await project.ContainerIdAsync("bastion"));
        Assert.Equal([$"{project.Name}_backend", $"{project.Name}_edge"], Networks(bastion));
        var client = await InspectAsync(await project.ContainerIdAsync("client"));
        Assert.Equal([$"{project.Name}_edge"], Networks(client));
        var fromEdge = await project.ComposeAsync(["exec", "-T", "client", "/bin/bash", "-c", "exec 3<>/dev/tcp/server/5556"]);
        Assert.NotEqual(0, fromEdge.ExitCode);
        output.WriteLine($"client -> server:5556 directly: exit {fromEdge.ExitCode}: {fromEdge.Output.Trim()}");

        // Non-root, with a health check that Docker reports healthy.
        foreach (var (name, container) in new[] { ("server", server), ("client", client) })
        {
            Assert.Equal("10001:10001", container.GetProperty("Config").GetProperty("User").GetString());
            Assert.Equal("healthy", await WaitHealthyAsync(container.GetProperty("Id").GetString()!));
            output.WriteLine($"{name}: user 10001, healthy");
        }
    }

    private static async Task<string?> WaitHealthyAsync(string containerId)
    {
        string? status = null;
        for (var i = 0; i < 30 && status != "healthy"; i++)
        {
            await Task.Delay(i == 0 ? 0 : 1000);
            status = (await InspectAsync(containerId)).GetProperty("State").GetProperty("Health").GetProperty("Status").GetString();
        }

        return status;
    }

    private static async Task<JsonElement> InspectAsync(string containerId)
    {
        var json = (await Cli.RunCheckedAsync("docker", ["inspect", containerId])).StandardOutput;
        return JsonDocument.Parse(json).RootElement[0].Clone();
    }

    private static List<string> Networks(JsonElement container) =>
        [.. container.GetProperty("NetworkSettings").GetProperty("Networks").EnumerateObject().Select(n => n.Name).Order(StringComparer.Ordinal)];
}
