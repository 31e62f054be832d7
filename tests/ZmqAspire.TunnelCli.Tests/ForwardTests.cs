using System.Globalization;
using System.Net.Http;
using System.Text.Json.Nodes;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>Real traffic through zmq-tunnel: the seed's pyzmq client, a pyzmq child, NetMQ, an sshd restart.</summary>
[Collection(CliSshdCollection.Name)]
public sealed class ForwardTests(CliSshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    /// <summary>A pyzmq REQ that takes its endpoint from zmq-tunnel's environment, checks the {port} substitution, and exits 3.</summary>
    private const string ChildScript = """
        import os, sys, zmq
        endpoint = os.environ["ZMQ_TUNNEL_ENDPOINT"]
        assert endpoint == os.environ["ZMQ_TUNNEL_ENDPOINT_1"], "ZMQ_TUNNEL_ENDPOINT_1 differs"
        assert endpoint == "tcp://127.0.0.1:" + sys.argv[1], "{port} was not replaced: " + sys.argv[1]
        socket = zmq.Context().socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVTIMEO, 20000)
        socket.connect(endpoint)
        socket.send(b"Hello")
        print("child got", socket.recv().decode(), "via", endpoint, flush=True)
        sys.exit(int(sys.argv[2]))
        """;

    /// <summary>
    /// A pyzmq client that streams requests with a receive timeout and, on a timeout, closes its
    /// REQ socket and resends on a new one (the ZeroMQ guide's Lazy Pirate). It exits 0 once it
    /// has had a timeout and then 5 replies again, 1 if that does not happen within 60 s.
    /// </summary>
    private const string StreamingScript = """
        import os, sys, time, zmq
        context = zmq.Context()
        endpoint = os.environ["ZMQ_TUNNEL_ENDPOINT"]
        def connect():
            s = context.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVTIMEO, 1000)
            s.connect(endpoint)
            return s
        socket, replies, timeouts, after = connect(), 0, 0, 0
        deadline = time.time() + 60
        while time.time() < deadline:
            socket.send(b"Hello")
            try:
                socket.recv()
                replies += 1
                after += 1 if timeouts else 0
                print("reply", replies, flush=True)
                if timeouts and after >= 5:
                    print("recovered after", timeouts, "timeout(s)", flush=True)
                    sys.exit(0)
            except zmq.Again:
                timeouts += 1
                print("timeout, resending", flush=True)
                socket.close()
                socket = connect()
            time.sleep(0.05)
        sys.exit(1)
        """;

    [Fact]
    public async Task The_seeds_second_client_gets_9_of_9_replies_through_a_fixed_local_port()
    {
        using var server = ReplyServer.Start();
        // The seed's port if it is free here, else another fixed one: --local-port is what is tested.
        var port = TunnelProcess.ListeningSockets(5557).Count == 0 ? 5557 : LoopbackPort.Free();
        var portText = port.ToString(CultureInfo.InvariantCulture);
        using var tunnel = TunnelProcess.Start([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--local-port", portText]);
        var ports = await tunnel.WaitForForwardsAsync(1, Generous);
        Assert.Equal([port], ports);
        Assert.Contains($"tcp://127.0.0.1:{portText} -> {server.Endpoint} via {sshd.Server}", tunnel.StandardOutput, StringComparison.Ordinal);
        // By default only this machine can use the forward.
        Assert.Contains($"127.0.0.1:{portText} ", Assert.Single(TunnelProcess.ListeningSockets(port)), StringComparison.Ordinal);

        // The seed's client, unmodified, as a fresh local user: a plain connect and 9 requests.
        using var peer = new SeedPeer("127.0.0.1", sshd.Port, knownHostKey: null, clientPrivateKeyPath: null);
        var result = peer.RunPython("manual_client.py", new Dictionary<string, string> { ["SEED_LOCAL_PORT"] = portText }, Generous);
        Assert.True(result.ExitCode == 0, SeedPeer.Describe(result) + tunnel.Describe);
        var replies = SeedPeer.Replies(result);
        Assert.Equal(9, replies.Count);
        Assert.All(replies, r => Assert.EndsWith($"[ {server.ExpectedGreeting} ]", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pyzmq_child_gets_its_endpoint_from_the_environment_and_its_exit_code_is_the_tunnels()
    {
        using var server = ReplyServer.Start();
        var run = await TunnelProcess.RunAsync(
            [sshd.Server, server.Endpoint, "--known-hosts", sshd.KnownHostsPath, "--identity", sshd.KeyPath, "--", "/usr/bin/python3", "-c", ChildScript, "{port}", "3"],
            Generous);
        Assert.True(run.Process.ExitCode == 3, run.Describe);
        Assert.Contains($"child got {server.ExpectedGreeting} via tcp://127.0.0.1:", run.StandardOutput, StringComparison.Ordinal);
        // Child mode: the forward line goes to stderr, stdout is the child's alone.
        var port = Assert.Single(await run.WaitForForwardsAsync(1, TimeSpan.Zero, onStderr: true));
        Assert.Contains($"via tcp://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", run.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(TunnelProcess.ListeningSockets(port));
    }

    [Fact]
    public async Task A_child_that_succeeds_gives_exit_0_and_one_that_cannot_start_gives_127()
    {
        using var server = ReplyServer.Start();
        var ok = await TunnelProcess.RunAsync(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--", "/usr/bin/python3", "-c", ChildScript, "{port}", "0"],
            Generous);
        Assert.True(ok.Process.ExitCode == 0, ok.Describe);
        var missing = await TunnelProcess.RunAsync(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--", "/nonexistent/program"],
            Generous);
        Assert.True(missing.Process.ExitCode == 127, missing.Describe);
        Assert.Contains("cannot start '/nonexistent/program'", missing.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Several_targets_print_json_lines_and_each_forward_reaches_its_own_server()
    {
        using var first = ReplyServer.Start();
        using var second = ReplyServer.Start();
        // Two pins, as during a host key rotation: the one sshd has is enough.
        using var tunnel = TunnelProcess.Start(
            [sshd.Server, first.Endpoint, second.Endpoint, "--host-key", sshd.OtherHostKeyFingerprint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--json"]);
        Assert.True(await TunnelProcess.WaitForAsync(() => tunnel.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 2, Generous), tunnel.Describe);
        var lines = tunnel.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([first.Endpoint, second.Endpoint], lines.Select(l => (string)l["remote"]!));
        Assert.All(lines, l => Assert.Equal(sshd.Server, (string)l["via"]!));
        foreach (var (line, server) in lines.Zip([first, second]))
        {
            using var req = new RequestSocket();
            req.Options.Linger = TimeSpan.Zero;
            req.Connect((string)line["local"]!);
            req.SendFrame("Hello");
            Assert.True(req.TryReceiveFrameString(TimeSpan.FromSeconds(20), out var reply), tunnel.Describe);
            Assert.Equal(server.ExpectedGreeting, reply);
        }
    }

    [Fact]
    public async Task Bind_0_0_0_0_listens_on_every_address_only_when_asked()
    {
        using var server = ReplyServer.Start();
        using var tunnel = TunnelProcess.Start([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--json", "--bind", "0.0.0.0"]);
        Assert.True(await TunnelProcess.WaitForAsync(() => tunnel.StandardOutput.Contains("\"local\"", StringComparison.Ordinal), Generous), tunnel.Describe);
        var local = (string)JsonNode.Parse(tunnel.StandardOutput.Split('\n')[0])!["local"]!;
        Assert.StartsWith("tcp://0.0.0.0:", local, StringComparison.Ordinal);
        var port = int.Parse(local["tcp://0.0.0.0:".Length..], CultureInfo.InvariantCulture);
        var listening = Assert.Single(TunnelProcess.ListeningSockets(port));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"0.0.0.0:{port}"), listening, StringComparison.Ordinal);

        // Reached here through loopback all the same; by default (other tests) it listens on 127.0.0.1 only.
        using var req = new RequestSocket();
        req.Options.Linger = TimeSpan.Zero;
        req.Connect(string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}"));
        req.SendFrame("Hello");
        Assert.True(req.TryReceiveFrameString(TimeSpan.FromSeconds(20), out var reply), tunnel.Describe);
        Assert.Equal(server.ExpectedGreeting, reply);
    }

    [Fact]
    public async Task The_health_port_serves_a_json_report()
    {
        using var server = ReplyServer.Start();
        var healthPort = LoopbackPort.Free();
        using var tunnel = TunnelProcess.Start([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--health-port", healthPort.ToString(CultureInfo.InvariantCulture)]);
        var port = Assert.Single(await tunnel.WaitForForwardsAsync(1, Generous));
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{healthPort}/health")));
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("up", (string)report["status"]!);
        Assert.Equal(sshd.HostKeyFingerprint, (string)report["hostKey"]!);
        Assert.Equal(1, (int)report["sessions"]!);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}"), (string)report["forwards"]![0]!["local"]!);
    }

    [Fact]
    public async Task A_streaming_pyzmq_client_recovers_by_itself_when_sshd_restarts()
    {
        using var server = ReplyServer.Start();
        using var tunnel = TunnelProcess.Start(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--", "/usr/bin/python3", "-c", StreamingScript]);
        Assert.True(await TunnelProcess.WaitForAsync(() => tunnel.StandardOutput.Contains("reply 5\n", StringComparison.Ordinal), Generous), tunnel.Describe);
        var port = Assert.Single(await tunnel.WaitForForwardsAsync(1, TimeSpan.Zero, onStderr: true));

        sshd.Restart(TimeSpan.FromSeconds(2));

        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine(tunnel.Describe);
        Assert.True(tunnel.Process.ExitCode == 0, tunnel.Describe + sshd.LogTail());
        Assert.Contains("recovered after", tunnel.StandardOutput, StringComparison.Ordinal);
        // One forward line for the whole run: the child kept its endpoint, the tunnel its port.
        Assert.Equal([port], await tunnel.WaitForForwardsAsync(1, TimeSpan.Zero, onStderr: true));
        Assert.Contains("zmq-tunnel: disconnected:", tunnel.StandardError, StringComparison.Ordinal);
        Assert.Contains("(session 2,", tunnel.StandardError, StringComparison.Ordinal);
    }
}
