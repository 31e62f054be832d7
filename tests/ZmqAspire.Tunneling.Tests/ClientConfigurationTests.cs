using System.Diagnostics;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The real client stops at start-up with a message naming the setting for every configuration
/// error its tunnel would otherwise meet only at login (README: "A misconfigured client stops at
/// start-up"). Before, with no credential at all, it ran on silently: the forward's loop died on
/// the error, nothing was logged until shutdown.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientConfigurationTests(SshdFixture sshd, ITestOutputHelper output)
{
    /// <summary>A hang check: start-up and the validation take a few seconds.</summary>
    private static readonly TimeSpan ExitWithin = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task No_credential_stops_the_client_naming_the_settings()
    {
        var home = Directory.CreateTempSubdirectory("zmqaspire-home-");
        var log = await RunUntilExitAsync(new Dictionary<string, string?> { ["HOME"] = home.FullName }, new Dictionary<string, string?> { ["PrivateKeyPath"] = null });

        Assert.Contains("ConnectionStrings:server: no credential: set PrivateKeyPath or Password", log, StringComparison.Ordinal);
        Assert.Contains("No SSH credential", log, StringComparison.Ordinal);
        home.Delete(recursive: true);
    }

    [Fact]
    public async Task An_encrypted_key_without_its_passphrase_stops_the_client_naming_the_settings()
    {
        var log = await RunUntilExitAsync([], new Dictionary<string, string?> { ["PrivateKeyPath"] = sshd.KeyPath(ClientKey.EncryptedEd25519) });

        Assert.Contains("ConnectionStrings:server: PrivateKeyPath / PrivateKeyPassphrase", log, StringComparison.Ordinal);
        Assert.Contains("no passphrase was given", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_known_hosts_file_stops_the_client_naming_the_setting()
    {
        var log = await RunUntilExitAsync([], new Dictionary<string, string?>
        {
            ["HostKeyFingerprint"] = null,
            ["KnownHostsPath"] = Path.Combine(sshd.Directory, "no_such_known_hosts"),
        });

        Assert.Contains("ConnectionStrings:server: KnownHostsPath", log, StringComparison.Ordinal);
        Assert.Contains("no_such_known_hosts", log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ZmqAspire__SshTunnel__server__ReconnectDelay", "-00:00:01", "ZmqAspire:SshTunnel:server: ReconnectDelay")]
    [InlineData("ZmqAspire__SshTunnel__server__MaxReconnectDelay", "00:00:00.1", "ZmqAspire:SshTunnel:server: MaxReconnectDelay")]
    [InlineData("ZmqAspire__SshTunnel__server__ConnectTimeout", "00:00:00", "ZmqAspire:SshTunnel:server: ConnectTimeout")]
    [InlineData("ZmqAspire__SshTunnel__server__ServerAliveCountMax", "0", "ZmqAspire:SshTunnel:server: ServerAliveCountMax")]
    public async Task A_timing_out_of_range_stops_the_client_naming_the_setting(string variable, string value, string named)
    {
        var log = await RunUntilExitAsync(new Dictionary<string, string?> { [variable] = value });

        Assert.Contains(named, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_removed_heartbeat_setting_stops_the_client_naming_it()
    {
        var log = await RunUntilExitAsync(new Dictionary<string, string?>
        {
            ["Client__HeartbeatInterval"] = "00:00:01",
        });

        Assert.Contains("Client:HeartbeatInterval was removed", log, StringComparison.Ordinal);
    }

    private async Task<string> RunUntilExitAsync(Dictionary<string, string?> environment, Dictionary<string, string?>? connection = null)
    {
        using var server = ReplyServer.Start();
        using var client = ClientProcess.Start(sshd, server.Endpoint, out var log, environment: environment, connection: connection);
        var watch = Stopwatch.StartNew();
        try
        {
            using var timeout = new CancellationTokenSource(ExitWithin);
            try
            {
                await client.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the client was still running after {ExitWithin.TotalSeconds:0} s:\n{ClientProcess.Text(log)}");
            }

            client.WaitForExit(); // the output is read to its end
            var text = ClientProcess.Text(log);
            output.WriteLine($"exited {client.ExitCode} after {watch.Elapsed.TotalSeconds:0.0} s:\n{text}");
            // 2: a configuration error, said plainly (not an unhandled exception's abort, 134).
            Assert.Equal(2, client.ExitCode);
            Assert.Contains("ZmqAspire.Client cannot start: ", text, StringComparison.Ordinal);
            return text;
        }
        finally
        {
            ProcessRunner.Stop(client);
        }
    }
}
