using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The security properties compose has, checked on a deployed swarm stack of one node or several
/// (each container inspected on the node that runs it): the server reachable only through the
/// bastion, and the containers non-root with capabilities dropped.
/// </summary>
internal static class SwarmSecurityChecks
{
    /// <summary>
    /// The server publishes nothing and nothing on the host answers on its port; every server task
    /// is on the internal backend network only, the client on edge only, the bastion on both; the
    /// bastion connects to server:5556 and the client cannot even resolve <c>server</c> or
    /// <c>tasks.server</c>.
    /// </summary>
    public static async Task OnlyTheBastionReachesTheServerAsync(SwarmStack stack, ITestOutputHelper output)
    {
        var ports = (await Cli.RunCheckedAsync("docker", ["service", "inspect", stack.Service("server"), "--format", "{{json .Endpoint.Ports}}"])).StandardOutput.Trim();
        Assert.True(ports is "null" or "[]", $"the server service publishes {ports}");
        using (var tcp = new TcpClient())
        {
            var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(IPAddress.Loopback, 5556));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            output.WriteLine($"host -> 127.0.0.1:5556: {refused.SocketErrorCode}; server published ports: none");
        }

        var servers = await stack.ContainersAsync("server");
        Assert.NotEmpty(servers);
        foreach (var (engine, id) in servers)
        {
            Assert.Equal([$"{stack.Name}_backend"], Networks(await engine.InspectAsync(id)));
        }

        var (bastionEngine, bastion) = (await stack.ContainersAsync("bastion")).Single();
        var (clientEngine, client) = (await stack.ContainersAsync("client")).Single();
        Assert.Equal([$"{stack.Name}_backend", $"{stack.Name}_edge"], Networks(await bastionEngine.InspectAsync(bastion)));
        Assert.Equal([$"{stack.Name}_edge"], Networks(await clientEngine.InspectAsync(client)));
        Assert.Equal("true", (await Cli.RunCheckedAsync("docker", ["network", "inspect", stack.Name + "_backend", "--format", "{{.Internal}}"])).StandardOutput.Trim());
        output.WriteLine($"networks: {servers.Count} server task(s) on {string.Join(", ", servers.Select(s => s.Engine.Node).Distinct())}: backend (internal) only; bastion on {bastionEngine}: backend + edge; client on {clientEngine}: edge only");

        // The same probe from both sides: the bastion reaches server:5556, the client does not (by the
        // service name or by its tasks' names: neither resolves on the edge network).
        const string Probe = "exec 3<>/dev/tcp/{0}/5556";
        var fromBastion = await bastionEngine.DockerAsync(["exec", bastion, "/bin/bash", "-c", string.Format(CultureInfo.InvariantCulture, Probe, "server")]);
        Assert.True(fromBastion.ExitCode == 0, "the bastion cannot reach server:5556: " + fromBastion.Output);
        foreach (var name in new[] { "server", "tasks.server" })
        {
            var fromClient = await clientEngine.DockerAsync(["exec", client, "/bin/bash", "-c", string.Format(CultureInfo.InvariantCulture, Probe, name)]);
            Assert.NotEqual(0, fromClient.ExitCode);
            Assert.Contains("Name or service not known", fromClient.Output, StringComparison.Ordinal);
            output.WriteLine($"client -> {name}:5556 directly: exit {fromClient.ExitCode}: {fromClient.Output.Trim()}; bastion -> server:5556: connected");
        }
    }

    /// <summary>
    /// The server's and client's containers (every server task) run as uid 10001 with every
    /// capability dropped, a read-only root file system (tmpfs /tmp) and healthy; the bastion as
    /// root with only the capabilities sshd uses; the client's key secret owned by uid 10001, 0400.
    /// </summary>
    public static async Task HardenedAsync(SwarmStack stack, ITestOutputHelper output)
    {
        foreach (var service in new[] { "server", "client", "bastion" })
        {
            foreach (var (engine, id) in await stack.ContainersAsync(service))
            {
                var container = await engine.InspectAsync(id);
                var host = container.GetProperty("HostConfig");
                var capDrop = host.GetProperty("CapDrop").EnumerateArray().Select(c => c.GetString()).ToList();
                Assert.Contains("ALL", capDrop);
                if (service == "bastion")
                {
                    // sshd runs as root (privilege separation) with only the capabilities it uses, as in compose.
                    var capAdd = host.GetProperty("CapAdd").EnumerateArray().Select(c => c.GetString()!.Replace("CAP_", string.Empty, StringComparison.Ordinal)).Order(StringComparer.Ordinal);
                    Assert.Equal(["CHOWN", "DAC_OVERRIDE", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_CHROOT"], capAdd);
                    output.WriteLine($"bastion on {engine}: root, capabilities ALL dropped, {string.Join(' ', capAdd)} kept");
                    continue;
                }

                Assert.Equal("10001:10001", container.GetProperty("Config").GetProperty("User").GetString());
                Assert.True(host.GetProperty("ReadonlyRootfs").GetBoolean(), $"{service}: root file system writable");
                Assert.Equal("healthy", container.GetProperty("State").GetProperty("Health").GetProperty("Status").GetString());
                // The root file system refuses a write; /tmp (tmpfs) takes one.
                var write = await engine.DockerAsync(["exec", id, "/bin/bash", "-c", "echo x > /app/probe; echo x > /tmp/probe && echo tmp-ok"]);
                Assert.Contains("Read-only file system", write.Output, StringComparison.Ordinal);
                Assert.Contains("tmp-ok", write.Output, StringComparison.Ordinal);
                output.WriteLine($"{service} on {engine}: user 10001, capabilities ALL dropped, read-only root (tmpfs /tmp), healthy");
            }
        }

        // The client's key: a swarm secret owned by the client's uid, readable by it alone.
        var secrets = (await Cli.RunCheckedAsync("docker", ["service", "inspect", stack.Service("client"), "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}"])).StandardOutput;
        var file = JsonDocument.Parse(secrets).RootElement.EnumerateArray().Single().GetProperty("File");
        Assert.Equal(("client_ed25519_key", "10001", 256), (file.GetProperty("Name").GetString(), file.GetProperty("UID").GetString(), file.GetProperty("Mode").GetInt32()));
    }

    private static List<string> Networks(JsonElement container) =>
        [.. container.GetProperty("NetworkSettings").GetProperty("Networks").EnumerateObject().Select(n => n.Name).Order(StringComparer.Ordinal)];
}
