using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;
using ZmqAspire.Tunneling;
using Tunnel = ZmqAspire.Tunneling.SshTunnel;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>What a service gets from AddSshTunnel: local endpoints that reach the servers behind the bastion.</summary>
[Collection(TunnelSshdCollection.Name)]
public sealed class ForwardTests(TunnelSshd sshd, ITestOutputHelper output)
{
    [Fact]
    public async Task RepBehindTheBastionAnswersThroughTheLocalEndpoint()
    {
        using var server = ReplyServer.Start();
        var builder = TunnelHost.Builder(("ConnectionStrings:server", sshd.ConnectionString(server.Endpoint)));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await host.StartAsync();

        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);
        var up = clock.Elapsed;
        var reply = await TunnelHost.RequestAsync(tunnel.LocalEndpoint);
        output.WriteLine($"host start to tunnel up: {up.TotalMilliseconds:0} ms; to the first reply: {clock.Elapsed.TotalMilliseconds:0} ms");

        Assert.Equal(server.ExpectedGreeting, reply);
        Assert.Equal("server", tunnel.Name);
        Assert.Equal(SshServerAddress.Parse(sshd.SshServer), tunnel.Server);
        Assert.Equal([TcpEndpoint.ParseTarget(server.Endpoint)], tunnel.RemoteEndpoints);
        var local = Assert.Single(tunnel.LocalEndpoints);
        Assert.Equal(tunnel.LocalEndpoint, local);
        Assert.Equal("127.0.0.1", local.Host);
        Assert.NotEqual(server.Port, local.Port);
        Assert.Equal(server.ExpectedGreeting, await TunnelHost.RequestAsync(local));
        Assert.Equal(SshTunnelStatus.Up, tunnel.State.Status);
        Assert.Equal(sshd.HostKeyFingerprint, tunnel.State.HostKeyFingerprint);
        await host.StopAsync();
        Assert.Equal(SshTunnelStatus.Stopped, tunnel.State.Status);
    }

    [Theory]
    [InlineData("pins")]
    [InlineData("known_hosts")]
    public async Task TheHostKeyIsCheckedByAnyOfSeveralPinsOrByKnownHosts(string how)
    {
        using var server = ReplyServer.Start();
        var hostKey = how == "pins"
            ? $"HostKeyFingerprint={sshd.OtherHostKeyFingerprint}, {sshd.HostKeyFingerprint}"
            : $"KnownHostsPath={sshd.KnownHostsPath}";
        var builder = TunnelHost.Builder(("ConnectionStrings:server", $"SshServer={sshd.SshServer};{hostKey};RemoteEndpoint={server.Endpoint};PrivateKeyPath={sshd.KeyPath}"));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();

        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);
        Assert.Equal(sshd.HostKeyFingerprint, tunnel.State.HostKeyFingerprint);
        Assert.Equal(server.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoint));
        await host.StopAsync();
    }

    [Fact]
    public async Task EachRemoteEndpointGetsItsOwnLocalEndpointInOrder()
    {
        using var first = ReplyServer.Start();
        using var second = ReplyServer.Start();
        using var third = ReplyServer.Start();
        var builder = TunnelHost.Builder(("ConnectionStrings:server", sshd.ConnectionString($"{first.Endpoint}, {second.Endpoint},{third.Endpoint}")));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();

        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);

        Assert.Equal(3, tunnel.LocalEndpoints.Count);
        Assert.Equal(3, tunnel.LocalEndpoints.Select(e => e.Port).Distinct().Count());
        Assert.Equal(first.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoints[0]));
        Assert.Equal(second.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoints[1]));
        Assert.Equal(third.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoints[2]));
        await host.StopAsync();
    }

    [Fact]
    public async Task LocalEndpointsStayTheSameAcrossAReconnect()
    {
        using var server = ReplyServer.Start();
        var builder = TunnelHost.Builder(("ConnectionStrings:server", sshd.ConnectionString(server.Endpoint)));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);
        var before = tunnel.LocalEndpoint;

        var secondSession = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tunnel.StateChanged += (_, e) =>
        {
            if (e.State is { Status: SshTunnelStatus.Up, SessionCount: 2 })
            {
                secondSession.TrySetResult();
            }
        };
        tunnel.Reconnect();
        await secondSession.Task.WaitAsync(TunnelHost.Patience);

        Assert.Equal(before, tunnel.LocalEndpoint);
        Assert.Equal(server.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoint));
        await host.StopAsync();
    }

    [Fact]
    public async Task KeyedTunnelsAreSeparateServicesEachWithItsOwnServer()
    {
        using var alphaServer = ReplyServer.Start();
        using var betaServer = ReplyServer.Start();
        var builder = TunnelHost.Builder(
            ("ConnectionStrings:alpha", sshd.ConnectionString(alphaServer.Endpoint)),
            ("ConnectionStrings:beta", sshd.ConnectionString(betaServer.Endpoint)));
        builder.AddKeyedSshTunnel("alpha");
        builder.AddKeyedSshTunnel("beta");
        using var host = builder.Build();
        await host.StartAsync();

        var alpha = host.Services.GetRequiredKeyedService<Tunnel>("alpha");
        var beta = host.Services.GetRequiredKeyedService<Tunnel>("beta");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(alpha.WaitUntilUpAsync(TunnelHost.Patience), beta.WaitUntilUpAsync(TunnelHost.Patience));
        output.WriteLine($"both up after {clock.Elapsed.TotalSeconds:0.00} s");

        Assert.NotSame(alpha, beta);
        Assert.Equal(("alpha", "beta"), (alpha.Name, beta.Name));
        Assert.Null(host.Services.GetService<Tunnel>());
        Assert.Equal(alphaServer.ExpectedGreeting, await TunnelHost.RequestAsync(alpha.LocalEndpoint));
        Assert.Equal(betaServer.ExpectedGreeting, await TunnelHost.RequestAsync(beta.LocalEndpoint));
        output.WriteLine($"both answered after {clock.Elapsed.TotalSeconds:0.00} s");
        await host.StopAsync();
    }

    [Fact]
    public void AddingTheSameTunnelTwiceIsRefusedWithWhatToDoInstead()
    {
        var builder = TunnelHost.Builder();
        builder.AddSshTunnel("server");
        var second = Assert.Throws<InvalidOperationException>(() => builder.AddSshTunnel("other"));
        Assert.Contains("Use AddKeyedSshTunnel(\"other\")", second.Message, StringComparison.Ordinal);
        var same = Assert.Throws<InvalidOperationException>(() => builder.AddKeyedSshTunnel("server"));
        Assert.Contains("An SSH tunnel named 'server' was already added", same.Message, StringComparison.Ordinal);
    }
}
