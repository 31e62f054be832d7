using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// deploy/swarm/stack.yml on a single-node swarm, from <c>eng/swarm.sh up</c> to <c>down</c>:
/// replies through the bastion; the server reachable only through it and the containers
/// hardened; the server scaled 1 → 3 and the client's lanes spread over all three tasks; a rolling
/// update of the server image under a stream of unique requests with none lost and none worked
/// twice (figures printed and added to artifacts/test-results/fault-figures.md); and nothing
/// left behind. One test, in phases, because each phase needs the state the one before made and
/// the swarm is made once (about 2 minutes in all).
/// </summary>
public sealed class SwarmStackTests(ITestOutputHelper output)
{
    private const string WorkTime = "00:00:00.1";

    [Fact]
    public async Task Swarm_stack_scales_updates_without_loss_through_the_bastion_only_and_leaves_nothing_behind()
    {
        var watch = Stopwatch.StartNew();
        var stack = await SwarmStack.CreateAsync("zmqswarm");
        var updateTag = $"zmqaspire/server:{stack.Name}";
        Exception? failure = null;
        try
        {
            output.WriteLine($"$ ZMQASPIRE_STACK={stack.Name} ZMQASPIRE_SERVER_REPLICAS=1 eng/swarm.sh up\n{(await stack.UpAsync(serverReplicas: 1, WorkTime)).Output}");
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] up");

            var clientLog = await stack.WaitForLogAsync("client", "Received reply 2 [ World from 5556 ]", TimeSpan.FromSeconds(90));
            Assert.Contains("Received reply 2 [ World from 5556 ]", clientLog, StringComparison.Ordinal);
            output.WriteLine(string.Join('\n', clientLog.Split('\n').Where(l => l.Contains("SSH tunnel server up") || l.Contains("Received reply 0 ")).Take(4)));

            await SwarmSecurityChecks.OnlyTheBastionReachesTheServerAsync(stack, output);
            await SwarmSecurityChecks.HardenedAsync(stack, output);
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] security checked");

            await ScaleAndSeeEveryReplicaServeTheClientAsync(stack);
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] scaled 1 -> 3");

            await Cli.RunCheckedAsync("docker", ["tag", ComposeProject.Images[0], updateTag]);
            await RollingUpdateUnderLoadAsync(stack, updateTag);
            output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] rolling update done");
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        var down = await stack.DownAsync();
        output.WriteLine($"$ ZMQASPIRE_STACK={stack.Name} eng/swarm.sh down\n{down.Output}");
        var left = await stack.LeftoversAsync();
        // The engine was in no swarm before (CreateAsync checked): never leave one behind, even on failure.
        var cleaned = await SwarmStack.LeaveSwarmWeMadeAsync();
        await stack.DisposeAsync();
        await Cli.RunAsync("docker", ["rmi", updateTag]); // only our tag; the image stays
        output.WriteLine($"[{watch.Elapsed.TotalSeconds:0} s] down; swarm test took {watch.Elapsed.TotalSeconds:0} s");
        SwarmStack.AssertTornDown(output, down, left, cleaned, failure);
    }

    private async Task ScaleAndSeeEveryReplicaServeTheClientAsync(SwarmStack stack)
    {
        // The server's name resolves to its tasks in a shuffled order (dnsrr), so each new
        // connection through the bastion lands on a task picked at random, and stays there. The
        // client's way of spreading (one SSH session, one forward and one REQ lane per entry of
        // RemoteEndpoint of ConnectionStrings__server), with 24 lanes: some task gets none with probability about 3 × (2/3)^24 ≈ 2e-4.
        var scale = await SwarmStack.DockerAsync("service", "scale", "--detach=false", stack.Service("server") + "=3");
        Assert.True(scale.ExitCode == 0, "docker service scale failed:\n" + scale.Output);
        var tasks = (await Cli.RunCheckedAsync("docker", ["service", "ps", stack.Service("server"), "--filter", "desired-state=running", "-q"])).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, tasks.Length);

        const int Lanes = 24;
        var byLane = new Dictionary<string, List<string>>();
        await using (var stream = await LaneStream.StartAsync(
            stack.SshPort, stack.HostKeyFingerprint, stack.ClientKeyPath, TcpEndpoint.Parse("tcp://server:5556"), Lanes, "swarmscale", TimeSpan.FromSeconds(5), maxRetries: 2))
        {
            Assert.True(await stream.WaitForRepliesAsync(DateTime.MinValue, 3, TimeSpan.FromSeconds(90)), "not every lane got 3 replies");
            var started = DateTime.UtcNow.AddMinutes(-2);
            var work = await stack.ServerWorkAsync(started);
            var figures = await stream.StopAsync("swarm, 24 lanes over 3 tasks", () => Task.FromResult(work));
            Assert.Equal(0, figures.Lost);
            foreach (var done in work.Where(w => stream.ClientIds.Contains(w.Client)))
            {
                byLane.TryAdd(done.Client, []);
                if (!byLane[done.Client].Contains(done.Task))
                {
                    byLane[done.Client].Add(done.Task);
                }
            }
        }

        var lanesPerTask = byLane.SelectMany(l => l.Value).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"after scaling to 3: {Lanes} lanes (each its own connection through the bastion) per server task: {string.Join(", ", lanesPerTask.Select(t => $"{t.Key}: {t.Value}"))}");
        Assert.All(byLane, l => Assert.True(l.Value.Count == 1, $"lane {l.Key} was served by {l.Value.Count} tasks (a connection stays on its task)"));
        Assert.Equal(3, lanesPerTask.Count);
    }

    private async Task RollingUpdateUnderLoadAsync(SwarmStack stack, string image)
    {
        await using var stream = await LaneStream.StartAsync(
            stack.SshPort, stack.HostKeyFingerprint, stack.ClientKeyPath, TcpEndpoint.Parse("tcp://server:5556"), lanes: 6, "swarmupd", TimeSpan.FromSeconds(2), maxRetries: 3);
        var streamStarted = DateTime.UtcNow.AddSeconds(-30);
        Assert.True(await stream.WaitForRepliesAsync(DateTime.UtcNow, 5, TimeSpan.FromSeconds(60)), "the stream's lanes got no replies before the update");

        var before = await RunningTasksAsync(stack);
        var watch = Stopwatch.StartNew();
        var update = await SwarmStack.DockerAsync("service", "update", "--detach=false", "--no-resolve-image", "--image", image, stack.Service("server"));
        var took = watch.Elapsed;
        Assert.True(update.ExitCode == 0, "docker service update --image failed:\n" + update.Output);
        var after = await RunningTasksAsync(stack);
        output.WriteLine($"rolling update to {image}: {took.TotalSeconds:0.0} s; tasks before {string.Join(' ', before.Select(t => t.Id))}, after {string.Join(' ', after.Select(t => t.Id))}");

        Assert.True(await stream.WaitForRepliesAsync(DateTime.UtcNow, 5, TimeSpan.FromSeconds(60)), "no replies after the update");
        var figures = await stream.StopAsync($"swarm rolling update of 3 server tasks ({took.TotalSeconds:0} s)", () => stack.ServerWorkAsync(streamStarted));
        figures.Report(output);
        foreach (var failure in stream.Failed.Take(3))
        {
            output.WriteLine($"failed clearly: {failure.Client} {failure.Sequence}: {failure.Error}");
        }

        // The client container's own lanes moved with the update too: which tasks serve it now (printed, not asserted: random).
        var since = DateTime.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(3));
        var clientWork = (await stack.ServerWorkAsync(since)).Where(w => !stream.ClientIds.Contains(w.Client)).GroupBy(w => w.Task);
        output.WriteLine($"the client container after the update, requests per server task in 3 s: {string.Join(", ", clientWork.Select(g => $"{g.Key}: {g.Count()}"))}");

        Assert.Equal(3, after.Count);
        Assert.All(after, t => Assert.Equal(image, t.Image));
        Assert.Empty(after.Select(t => t.Id).Intersect(before.Select(t => t.Id)));
        Assert.True(figures.Lost == 0, $"{figures.Lost} request(s) lost: {string.Join("; ", figures.Unclear)}");
        Assert.Equal(0, figures.Duplicated);
        Assert.Equal(0, figures.FailedClear);
    }

    private static async Task<List<(string Id, string Image)>> RunningTasksAsync(SwarmStack stack) =>
        [.. (await Cli.RunCheckedAsync("docker", ["service", "ps", stack.Service("server"), "--filter", "desired-state=running", "--no-trunc", "--format", "{{.ID}} {{.Image}}"])).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Select(p => (p[0], p[1].Split('@')[0]))];
}
