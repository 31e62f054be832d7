using System.Diagnostics;
using System.Text.Json;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// deploy/swarm/stack.yml with deploy/swarm/multinode.yml on a swarm of two nodes on this machine,
/// from <c>eng/swarm.sh up --nodes 2</c> to <c>down</c>: this engine is the manager and runs the
/// bastion and the client; a worker node (a Docker-in-Docker container, deploy/swarm/node) runs
/// the server's three tasks, so every request crosses the overlay network between the nodes. The
/// replies come through the bastion from every task on the worker; the server is reachable only
/// through the bastion and the containers are hardened on both nodes; and <c>down</c> leaves no
/// service, secret, network, container, worker node or volume, and the engine in no swarm. The
/// figures (bring-up, deploy, first reply, replies per task, teardown) are printed.
/// </summary>
public sealed class SwarmMultiNodeTests(ITestOutputHelper output)
{
    private const string WorkTime = "00:00:00.1";
    private const string Worker = "zmqaspire-swarm-worker-1";

    [Fact]
    public async Task Server_tasks_on_the_worker_node_answer_through_the_bastion_on_the_manager_and_down_leaves_nothing()
    {
        var watch = Stopwatch.StartNew();
        var stack = await SwarmStack.CreateAsync("zmqmulti");
        Exception? failure = null;
        try
        {
            var up = await stack.UpAsync(serverReplicas: 3, WorkTime, nodes: 2);
            var deployed = DateTime.UtcNow;
            output.WriteLine($"$ ZMQASPIRE_STACK={stack.Name} eng/swarm.sh up --nodes 2\n{up.Output}");
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] up (eng/swarm.sh up --nodes 2 took {watch.Elapsed.TotalSeconds:0} s)");

            await AssertPlacementAsync(stack);

            var clientLog = await stack.WaitForLogAsync("client", "Received reply 2 [ World from 5556 ]", TimeSpan.FromSeconds(90));
            Assert.Contains("Received reply 2 [ World from 5556 ]", clientLog, StringComparison.Ordinal);
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] the client's third reply through the bastion, {(DateTime.UtcNow - deployed).TotalSeconds:0} s after the stack converged (polled every second)");

            await RepliesFromEveryTaskOnTheWorkerAsync(stack);
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] replies per task counted");

            await SwarmSecurityChecks.OnlyTheBastionReachesTheServerAsync(stack, output);
            await SwarmSecurityChecks.HardenedAsync(stack, output);
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] security checked");
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        var downWatch = Stopwatch.StartNew();
        var down = await stack.DownAsync();
        var downTook = downWatch.Elapsed;
        output.WriteLine($"$ ZMQASPIRE_STACK={stack.Name} eng/swarm.sh down\n{down.Output}");
        var left = await stack.LeftoversAsync();
        var nodeList = await Cli.RunAsync("docker", ["node", "ls"]);
        // The engine was in no swarm before (CreateAsync checked): never leave one behind, even on failure.
        var cleaned = await SwarmStack.LeaveSwarmWeMadeAsync();
        await stack.DisposeAsync();
        output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] down in {downTook.TotalSeconds:0.0} s; multi-node swarm test took {watch.Elapsed.TotalSeconds:0} s");
        output.WriteLine($"$ docker node ls (after down): exit {nodeList.ExitCode}: {nodeList.Output.Trim()}");
        SwarmStack.AssertTornDown(output, down, left, cleaned, failure);
        Assert.Empty(cleaned);
        // No swarm, so no node list: the engine is no manager of anything.
        Assert.NotEqual(0, nodeList.ExitCode);
        Assert.Contains("not a swarm manager", nodeList.Output, StringComparison.Ordinal);
    }

    /// <summary>Two nodes; the server's tasks on the worker (and its containers in the worker's engine), the bastion and the client on the manager; the backend overlay spans both nodes.</summary>
    private async Task AssertPlacementAsync(SwarmStack stack)
    {
        var nodes = (await Cli.RunCheckedAsync("docker", ["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}"])).StandardOutput.Trim();
        output.WriteLine("$ docker node ls\n" + nodes);
        var manager = (await Cli.RunCheckedAsync("docker", ["info", "--format", "{{.Name}}"])).StandardOutput.Trim();
        var lines = nodes.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains($"{manager} Ready Leader", lines);
        Assert.Contains($"{Worker} Ready", lines);

        var nodePs = (await Cli.RunCheckedAsync("docker", ["node", "ps", Worker, "--filter", "desired-state=running", "--format", "{{.Name}} {{.CurrentState}}"])).StandardOutput.Trim();
        output.WriteLine($"$ docker node ps {Worker}\n{nodePs}");
        var history = (await Cli.RunCheckedAsync("docker", ["service", "ps", stack.Service("server"), "--format", "{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}"])).StandardOutput.Trim();
        output.WriteLine($"$ docker service ps {stack.Service("server")} (with history)\n{history}");
        foreach (var (service, node) in new[] { ("server", Worker), ("bastion", manager), ("client", manager) })
        {
            var placed = (await Cli.RunCheckedAsync("docker", ["service", "ps", stack.Service(service), "--filter", "desired-state=running", "--format", "{{.Node}}"])).StandardOutput
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(placed.Length == (service == "server" ? 3 : 1) && placed.All(n => n == node), $"{service}'s tasks run on {string.Join(", ", placed)}, not {node}");
            var containers = await stack.ContainersAsync(service);
            Assert.All(containers, c => Assert.Equal(node == Worker ? Worker : "manager", c.Engine.Node));
            Assert.Equal(placed.Length, containers.Count);
        }

        Assert.Equal(3, nodePs.Split('\n').Count(l => l.StartsWith(stack.Service("server") + ".", StringComparison.Ordinal)));
        output.WriteLine($"placement: server x3 on {Worker} (containers in its engine), bastion and client on {manager}");

        // The backend overlay's peers, as the manager's engine knows them: both nodes, by their
        // addresses on the node network (VXLAN between them).
        var peers = JsonDocument.Parse((await Cli.RunCheckedAsync("docker", ["network", "inspect", "--verbose", stack.Name + "_backend", "--format", "{{json .Peers}}"])).StandardOutput)
            .RootElement.EnumerateArray().Select(p => p.GetProperty("IP").GetString()).Order(StringComparer.Ordinal).ToList();
        var format = $"{{{{(index .IPAM.Config 0).Gateway}}}} {{{{range .Containers}}}}{{{{if eq .Name \"{Worker}\"}}}}{{{{.IPv4Address}}}}{{{{end}}}}{{{{end}}}}";
        var addresses = (await Cli.RunCheckedAsync("docker", ["network", "inspect", SwarmStack.NodeNetwork, "--format", format])).StandardOutput.Trim().Split(' ');
        output.WriteLine($"backend overlay peers: {string.Join(", ", peers)}; manager {addresses[0]}, {Worker} {addresses[1]} on {SwarmStack.NodeNetwork}");
        Assert.Equal([addresses[0], addresses[1].Split('/')[0]], peers);

        // The swarm stays on the node network: that network is internal (the worker reaches nothing
        // beyond this host), and the manager's swarm ports listen on its gateway address only.
        Assert.Equal("true", (await Cli.RunCheckedAsync("docker", ["network", "inspect", SwarmStack.NodeNetwork, "--format", "{{.Internal}}"])).StandardOutput.Trim());
        var listening = (await Cli.RunCheckedAsync("ss", ["-Htln"])).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]).Where(a => a.EndsWith(":2377", StringComparison.Ordinal) || a.EndsWith(":7946", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        output.WriteLine($"{SwarmStack.NodeNetwork}: internal; swarm TCP ports listening on this host: {string.Join(", ", listening)}");
        Assert.Equal([$"{addresses[0]}:2377", $"{addresses[0]}:7946"], listening);
    }

    /// <summary>
    /// 24 lanes from the host through the bastion (one SSH session, one forward and one REQ lane
    /// each, as the client): every lane gets replies, and the server logs on the worker say which
    /// task did each request; all three tasks serve (some task gets no lane with probability
    /// 3 × (2/3)^24 ≈ 2e-4). Also prints how the client container's own six lanes landed.
    /// </summary>
    private async Task RepliesFromEveryTaskOnTheWorkerAsync(SwarmStack stack)
    {
        const int Lanes = 24;
        var started = DateTime.UtcNow.AddMinutes(-1);
        List<(string Task, string Client, long Sequence)> work;
        await using (var stream = await LaneStream.StartAsync(
            stack.SshPort, stack.HostKeyFingerprint, stack.ClientKeyPath, TcpEndpoint.Parse("tcp://server:5556"), Lanes, "multinode", TimeSpan.FromSeconds(5), maxRetries: 2))
        {
            Assert.True(await stream.WaitForRepliesAsync(DateTime.MinValue, 3, TimeSpan.FromSeconds(90)), "not every lane got 3 replies");
            work = await stack.ServerWorkAsync(started);
            var figures = await stream.StopAsync("multi-node swarm, 24 lanes over 3 tasks on the worker", () => Task.FromResult(work));
            Assert.Equal(0, figures.Lost);
            var ours = work.Where(w => stream.ClientIds.Contains(w.Client)).ToList();
            var perTask = ours.GroupBy(w => w.Task).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key}: {g.Count()} requests, {g.Select(w => w.Client).Distinct().Count()} lanes").ToList();
            output.WriteLine($"{Lanes} lanes through the bastion, {stream.Answered} replies; per server task on {Worker}: {string.Join("; ", perTask)}");
            Assert.Equal(3, perTask.Count);
            Assert.All(ours.GroupBy(w => w.Client), l => Assert.True(l.Select(w => w.Task).Distinct().Count() == 1, $"lane {l.Key} was served by several tasks (a connection stays on its task)"));
        }

        var clientWork = work.Where(w => !w.Client.StartsWith("multinode", StringComparison.Ordinal))
            .GroupBy(w => w.Task).OrderBy(g => g.Key, StringComparer.Ordinal);
        output.WriteLine($"the client container's requests per server task so far: {string.Join(", ", clientWork.Select(g => $"{g.Key}: {g.Count()}"))}");
    }
}
