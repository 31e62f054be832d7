using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ZmqAspire.Tunneling;
using Tunnel = ZmqAspire.Tunneling.SshTunnel;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>
/// Bad or missing settings stop the host at start, with a message that names the configuration
/// key and the connection; good ones bind in Aspire's order (sections, connection string, callback).
/// </summary>
[Collection(TunnelSshdCollection.Name)]
public sealed class SettingsTests(TunnelSshd sshd)
{
    private const string Remote = "tcp://127.0.0.1:5556";

    [Fact]
    public async Task NoConnectionStringFailsTheStartNamingIt()
    {
        var failures = await StartFailuresAsync();
        Assert.Equal(
            "ConnectionStrings:server is not set: AddSshTunnel(\"server\") reads the bastion, its host key, the remote endpoint(s) and the credential from it (the AppHost sets it with WithReference)",
            failures[0]);
    }

    [Fact]
    public async Task MissingSshServerIsNamed()
    {
        var failures = await StartFailuresAsync(("ConnectionStrings:server", $"HostKeyFingerprint={sshd.HostKeyFingerprint};RemoteEndpoint={Remote};PrivateKeyPath={sshd.KeyPath}"));
        Assert.Equal(["ConnectionStrings:server: SshServer is missing: give the bastion as user@host[:port]"], failures);
    }

    [Fact]
    public async Task MissingHostKeyIsNamedAndNeverTrustedByDefault()
    {
        var failures = await StartFailuresAsync(("ConnectionStrings:server", $"SshServer={sshd.SshServer};RemoteEndpoint={Remote};PrivateKeyPath={sshd.KeyPath}"));
        Assert.Equal(["ConnectionStrings:server: HostKeyFingerprint is missing (or KnownHostsPath): the bastion's host key must be checked, an unknown key is never accepted"], failures);
    }

    [Fact]
    public async Task MissingRemoteEndpointIsNamed()
    {
        var failures = await StartFailuresAsync(("ConnectionStrings:server", $"SshServer={sshd.SshServer};HostKeyFingerprint={sshd.HostKeyFingerprint};PrivateKeyPath={sshd.KeyPath}"));
        Assert.Equal(["ConnectionStrings:server: RemoteEndpoint is missing: give the server as the bastion sees it, tcp://host:port (comma-separated for several replicas)"], failures);
    }

    [Theory]
    [InlineData("SshServer=127.0.0.1:22", "ConnectionStrings:server: SshServer: Invalid SSH server '127.0.0.1:22': no user name before '@'. Expected user@host[:port].")]
    [InlineData("RemoteEndpoint=tcp://server:5556,udp://server:5557", "ConnectionStrings:server: RemoteEndpoint: Invalid ZeroMQ endpoint 'udp://server:5557': only the tcp:// transport can be tunnelled over SSH. Expected tcp://host:port.")]
    [InlineData("RemoteEndpoint=tcp://*:5556", "ConnectionStrings:server: RemoteEndpoint: Invalid ZeroMQ endpoint 'tcp://*:5556'")]
    [InlineData("HostKeyFingerprint=SHA256:tooshort", "ConnectionStrings:server: HostKeyFingerprint: ")]
    [InlineData("HostKeyFingerprnt=SHA256:x", "ConnectionStrings:server: unknown key 'HostKeyFingerprnt' (known: SshServer, HostKeyFingerprint, KnownHostsPath, RemoteEndpoint, PrivateKeyPath, PrivateKeyPassphrase, Password;")]
    [InlineData("PrivateKeyPath=/nonexistent/id_ed25519", "ConnectionStrings:server: PrivateKeyPath / PrivateKeyPassphrase: Private key '/nonexistent/id_ed25519' cannot be used")]
    [InlineData("KnownHostsPath=/nonexistent/known_hosts;HostKeyFingerprint=", "ConnectionStrings:server: KnownHostsPath: ")]
    public async Task AWrongValueInTheConnectionStringIsNamed(string change, string expected)
    {
        var failures = await StartFailuresAsync(("ConnectionStrings:server", Valid(Remote) + ";" + change));
        Assert.True(failures.Count == 1 && failures[0].StartsWith(expected, StringComparison.Ordinal), $"expected one failure starting with\n{expected}\ngot:\n{string.Join('\n', failures)}");
    }

    [Fact]
    public async Task SectionValuesAreCheckedAndNamedByTheirSection()
    {
        var failures = await StartFailuresAsync(
            ("ConnectionStrings:server", Valid(Remote)),
            ("ZmqAspire:SshTunnel:ReconnectDelay", "00:00:00"),
            ("ZmqAspire:SshTunnel:server:ConnectTimeout", "-00:00:01"));
        Assert.Equal(2, failures.Count);
        Assert.StartsWith("ZmqAspire:SshTunnel: ReconnectDelay: SelfHealingForwardOptions.ReconnectDelay must be positive", failures[0], StringComparison.Ordinal);
        Assert.Equal("ZmqAspire:SshTunnel:server: ConnectTimeout must be positive (was -00:00:01)", failures[1]);
    }

    [Fact]
    public async Task AChannelWindowOutOfRangeIsNamed()
    {
        var failures = await StartFailuresAsync(
            ("ConnectionStrings:server", Valid(Remote)),
            ("ZmqAspire:SshTunnel:server:ChannelWindowSize", "1024"));
        Assert.Equal(["ZmqAspire:SshTunnel:server: ChannelWindowSize must be from 65536 (64 KiB) to 1073741824 (1 GiB) bytes (was 1024)"], failures);
    }

    [Fact]
    public async Task ATimingThatIsNotATimeSpanIsNamedAtStart()
    {
        var failures = await StartFailuresAsync(
            ("ConnectionStrings:server", Valid(Remote)),
            ("ZmqAspire:SshTunnel:server:MaxReconnectDelay", "five seconds"));
        var failure = Assert.Single(failures);
        Assert.Contains("ZmqAspire:SshTunnel:server:MaxReconnectDelay", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryProblemIsReportedAtOnceAndNoSecretIsQuoted()
    {
        const string secret = "pa55;word-not-to-be-logged";
        var failures = await StartFailuresAsync(("ConnectionStrings:server", $"SshServer=nobody;RemoteEndpoint=tcp://server;Password=\"{secret}\";PrivateKeyPassphrase={secret[5..]}"));
        Assert.Equal(3, failures.Count);
        Assert.StartsWith("ConnectionStrings:server: SshServer: ", failures[0], StringComparison.Ordinal);
        Assert.StartsWith("ConnectionStrings:server: HostKeyFingerprint is missing", failures[1], StringComparison.Ordinal);
        Assert.StartsWith("ConnectionStrings:server: RemoteEndpoint: ", failures[2], StringComparison.Ordinal);
        Assert.DoesNotContain(failures, f => f.Contains("word-not", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABadSettingFailsTheStartBeforeAnyOfTheServicesOwnServicesStart()
    {
        var builder = TunnelHost.Builder(("ConnectionStrings:server", "SshServer=nobody"));
        var started = new StartRecorder();
        // Added before the tunnel, so the host would start it first.
        builder.Services.AddSingleton<IHostedService>(started);
        builder.AddSshTunnel("server");
        using var host = builder.Build();

        await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.False(started.Started);
    }

    [Fact]
    public void SettingsAreCheckedAtStartNotWhenAddedOrBuilt()
    {
        var builder = TunnelHost.Builder(("ConnectionStrings:server", "SshServer=nobody"));
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        // Resolving is what a start does; it is refused the same way.
        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<Tunnel>());
        Assert.Equal("server", error.OptionsName);
        Assert.Equal(typeof(SshTunnelSettings), error.OptionsType);
    }

    [Fact]
    public async Task TheConnectionStringWinsOverTheSectionsAndTheCallbackRunsLast()
    {
        using var server = ReplyServer.Start();
        SshTunnelSettings? seen = null;
        var builder = TunnelHost.Builder(
            ("ZmqAspire:SshTunnel:SshServer", "someone@shared.invalid:22"),
            ("ZmqAspire:SshTunnel:ConnectTimeout", "00:00:07"),
            ("ZmqAspire:SshTunnel:server:SshServer", "someone@named.invalid:22"),
            ("ZmqAspire:SshTunnel:server:ConnectTimeout", "00:00:08"),
            ("ZmqAspire:SshTunnel:server:RemoteEndpoint", "tcp://from-the-section:1"),
            ("ZmqAspire:SshTunnel:server:DisableHealthChecks", "true"),
            ("ConnectionStrings:server", $"sshserver={sshd.SshServer};HOSTKEYFINGERPRINT={sshd.HostKeyFingerprint};RemoteEndpoint={server.Endpoint};PrivateKeyPath={sshd.KeyPath}"));
        builder.AddSshTunnel("server", s =>
        {
            seen = new SshTunnelSettings { SshServer = s.SshServer, RemoteEndpoint = s.RemoteEndpoint, ConnectTimeout = s.ConnectTimeout, DisableHealthChecks = s.DisableHealthChecks };
            s.ReconnectDelay = TimeSpan.FromMilliseconds(250);
        });
        using var host = builder.Build();
        await host.StartAsync();
        var tunnel = host.Services.GetRequiredService<Tunnel>();
        await tunnel.WaitUntilUpAsync(TunnelHost.Patience);

        Assert.NotNull(seen);
        Assert.Equal(sshd.SshServer, seen.SshServer);
        Assert.Equal(server.Endpoint, seen.RemoteEndpoint);
        Assert.Equal(TimeSpan.FromSeconds(8), seen.ConnectTimeout);
        Assert.True(seen.DisableHealthChecks);
        Assert.Null(tunnel.HealthCheckName);
        Assert.Equal(server.ExpectedGreeting, await TunnelHost.RequestAsync(tunnel.LocalEndpoint));
        await host.StopAsync();
    }

    [Fact]
    public async Task AValueTheCallbackSetsIsNamedAsTheCallbacks()
    {
        var builder = TunnelHost.Builder(("ConnectionStrings:server", Valid(Remote)));
        builder.AddSshTunnel("server", s => s.MaxReconnectDelay = TimeSpan.FromMilliseconds(1));
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        var failure = Assert.Single(error.Failures);
        Assert.StartsWith("the configure callback: MaxReconnectDelay: SelfHealingForwardOptions.MaxReconnectDelay must be at least ReconnectDelay", failure, StringComparison.Ordinal);
    }

    private sealed class StartRecorder : IHostedService
    {
        public bool Started { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Started = true;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private string Valid(string remote) => sshd.ConnectionString(remote);

    private static async Task<IReadOnlyList<string>> StartFailuresAsync(params (string Key, string? Value)[] configuration)
    {
        var builder = TunnelHost.Builder(configuration);
        builder.AddSshTunnel("server");
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal("server", error.OptionsName);
        return [.. error.Failures];
    }
}
