using System.Text;
using System.Text.RegularExpressions;
using NetMQ;
using NetMQ.Sockets;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>The AppHost with its opt-ins on: the PUB/SUB and PUSH/PULL demo peers, and remote forwards on one bastion port.</summary>
public sealed class OptInsFixture : AppHostFixture
{
    /// <summary>The port the bastion may listen on for remote forwards.</summary>
    public const int RemoteForwardPort = 7000;

    protected override IEnumerable<string> ExtraArguments =>
        ["--ZmqAspire:PatternDemos=true", $"--ZmqAspire:RemoteForwardPort={RemoteForwardPort}"];
}

[CollectionDefinition(Name)]
public sealed class OptInsCollection : ICollectionFixture<OptInsFixture>
{
    public const string Name = "AppHost with pattern demos and remote forwards";
}

/// <summary>
/// The demo peers through the bastion (publisher and puller in containers behind it, subscriber
/// and pusher on the host through their own forwards), and a reverse tunnel through the running
/// bastion when the AppHost opted into it.
/// </summary>
[Collection(OptInsCollection.Name)]
public sealed partial class PatternDemoTests(OptInsFixture fixture)
{
    private const int Wanted = 3;

    [Theory]
    [InlineData("subscriber", "tick", "demo.ticks")]
    [InlineData("puller", "job", "demo.jobs")]
    public async Task Messages_flow_end_to_end_in_order(string consumer, string word, string destination)
    {
        var lines = await fixture.WatchLogsAsync(consumer, l => Received(l, word).Count >= Wanted, TimeSpan.FromMinutes(3));

        var received = Received(lines, word);
        Assert.True(received.Count >= Wanted, $"{consumer} log:\n" + string.Join('\n', lines.TakeLast(30)));
        // The body's number and the header's sequence agree (the ZQA1 frame crossed intact), and
        // the stream is in order without gaps once joined (a subscriber may miss the first ticks).
        Assert.All(received, r => Assert.Equal(r.Body, r.Sequence));
        Assert.Equal(Enumerable.Range((int)received[0].Body, received.Count).Select(n => (long)n), received.Select(r => r.Body));
        Assert.Contains(lines, l => l.Contains($"from {destination}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_container_behind_the_bastion_reaches_a_socket_bound_on_the_host_through_a_remote_forward()
    {
        using var pull = new PullSocket();
        pull.Options.Linger = TimeSpan.Zero;
        var port = pull.BindRandomPort("tcp://127.0.0.1");
        await using var session = await SshTunnelSession.ConnectAsync(fixture.BastionOptions());
        // "*" asks for all of the bastion's addresses (GatewayPorts clientspecified), so other containers reach it.
        using var reverse = session.OpenRemoteForward(
            new TcpEndpoint("0.0.0.0", OptInsFixture.RemoteForwardPort), new TcpEndpoint("127.0.0.1", port));

        // A PUSH peer started inside the puller container (the project's own image and network)
        // connects to the bastion's listener, which relays to our PULL socket. It keeps sending
        // for 10 s: its first messages wait in its pipe until the connection through the bastion
        // is up, which on a loaded machine can take longer than a short run's linger.
        var puller = await fixture.ContainerIdAsync("puller");
        var push = Docker.RunAsync(
            "exec", puller, "/app/ZmqAspire.PatternDemo", "--Demo:Mode=Pusher",
            $"--Demo:Connect=tcp://bastion:{OptInsFixture.RemoteForwardPort}", "--Demo:Count=20", "--Demo:Interval=00:00:00.5");

        var bodies = new List<string>();
        var message = new NetMQMessage();
        for (var i = 0; i < Wanted && pull.TryReceiveMultipartMessage(TimeSpan.FromSeconds(60), ref message); i++)
        {
            Assert.Equal(2, message.FrameCount); // ZQA1 header, body
            bodies.Add(message.Last.ConvertToString(Encoding.UTF8));
        }

        if (bodies.Count < Wanted)
        {
            // Say why: the pusher's own output (or docker's error) and the bastion's log.
            string pusher;
            try
            {
                pusher = await push.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                pusher = ex.Message;
            }

            var bastion = await fixture.WatchLogsAsync("bastion", _ => false, TimeSpan.FromSeconds(3));
            Assert.Fail($"received [{string.Join(", ", bodies)}]; pusher: {pusher}\nbastion log:\n{string.Join('\n', bastion.TakeLast(20))}");
        }

        Assert.Equal(Enumerable.Range(0, Wanted).Select(n => $"job {n}"), bodies);
        await Task.WhenAny(push, Task.Delay(TimeSpan.FromSeconds(30))); // the pusher stops after its count
    }

    private static List<(long Body, long Sequence)> Received(IEnumerable<string> lines, string word) =>
        [.. lines.Select(l => ReceivedPattern().Match(l))
            .Where(m => m.Success && m.Groups[1].Value == word)
            .Select(m => (long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)))];

    [GeneratedRegex(@"Received (\w+) (\d+) from [\w.]+ \(sequence (\d+)\)")]
    private static partial Regex ReceivedPattern();
}
