using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ZmqAspire.AppHost;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>An AppHost of its own: rotating the host key ends its client's tunnel for good.</summary>
public sealed class HostKeyRotationFixture : AppHostFixture;

[CollectionDefinition(Name)]
public sealed class HostKeyRotationCollection : ICollectionFixture<HostKeyRotationFixture>
{
    public const string Name = "AppHost whose bastion host key is rotated";
}

/// <summary>
/// The bastion's host key is replaced while the AppHost runs and the client's pin is not
/// updated: the running client must refuse the bastion, say why, and turn Unhealthy.
/// </summary>
[Collection(HostKeyRotationCollection.Name)]
public sealed class HostKeyRotationTests(HostKeyRotationFixture fixture)
{
    private const string HostKey = "/etc/zmqaspire/keys/ssh_host_ed25519_key";
    private const string Listening = "Server listening on 0.0.0.0 port 22";

    [Fact]
    public async Task Client_refuses_a_rotated_host_key_naming_both_fingerprints_and_turns_unhealthy()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("client", cts.Token);
        var pinned = fixture.Keys.HostKeyFingerprint;

        // A new host key in the running bastion; SIGHUP makes sshd (PID 1) re-execute itself and
        // load it. Open sessions (the client's) are kept, as on a real bastion.
        var bastion = await fixture.ContainerIdAsync("bastion");
        await Docker.RunAsync("exec", bastion, "sh", "-c",
            $"rm -f {HostKey} {HostKey}.pub && ssh-keygen -q -t ed25519 -N '' -C rotated -f {HostKey} </dev/null && kill -HUP 1");
        var rotated = SshKeyMaterial.Fingerprint(await Docker.RunAsync("exec", bastion, "cat", HostKey + ".pub"));
        Assert.NotEqual(pinned, rotated);
        var log = await fixture.WatchLogsAsync("bastion", l => l.Count(x => x.Contains(Listening, StringComparison.Ordinal)) >= 2, TimeSpan.FromSeconds(30));
        Assert.True(log.Count(x => x.Contains(Listening, StringComparison.Ordinal)) >= 2, "sshd did not restart:\n" + string.Join('\n', log.TakeLast(20)));

        // The bastion now presents the new key to anyone who connects.
        var probe = await Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshTunnelSession.ConnectAsync(fixture.BastionOptions()));
        Assert.Equal(rotated, probe.SeenFingerprint);

        // The running client logs in again (the dashboard's Reconnect command) and must refuse.
        var command = await fixture.App.Services.GetRequiredService<ResourceCommandService>()
            .ExecuteCommandAsync("client", ClientCommandExtensions.ReconnectCommand, cts.Token);
        Assert.True(command.Success, command.Message);

        var lines = await fixture.WatchLogsAsync("client", l => l.Any(Refusal), TimeSpan.FromMinutes(1));
        var refusal = Assert.Single(lines, Refusal);
        Assert.Contains(pinned, refusal, StringComparison.Ordinal);   // what the client expected
        Assert.Contains(rotated, refusal, StringComparison.Ordinal);  // what the bastion showed
        Assert.DoesNotContain(lines.SkipWhile(l => !Refusal(l)), l => l.Contains("SSH tunnel server up", StringComparison.Ordinal));

        // ... and, since a host key mismatch needs a person, it stays down rather than retrying.
        var down = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "client", e => e.Snapshot.HealthStatus == HealthStatus.Unhealthy, cts.Token);
        Assert.Equal(HealthStatus.Unhealthy, down.Snapshot.HealthStatus);
    }

    private static bool Refusal(string line) =>
        line.Contains("SSH tunnel server cannot be established", StringComparison.Ordinal) && line.Contains("host key", StringComparison.OrdinalIgnoreCase);
}
