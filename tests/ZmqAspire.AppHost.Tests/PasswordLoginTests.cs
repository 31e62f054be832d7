using System.Security.Cryptography;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The AppHost with the seed's opt-ins: password login (with a fresh random password) and the
/// AES-CTR ciphers that Debian 12's paramiko needs.
/// </summary>
public sealed class PasswordLoginFixture : AppHostFixture
{
    public string Password { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));

    protected override IEnumerable<string> ExtraArguments =>
        ["--ZmqAspire:PasswordLogin=true", $"--Parameters:bastion-password={Password}", "--ZmqAspire:AesCtrCiphers=true"];
}

[CollectionDefinition(Name)]
public sealed class PasswordLoginCollection : ICollectionFixture<PasswordLoginFixture>
{
    public const string Name = "AppHost with password login";
}

[Collection(PasswordLoginCollection.Name)]
public sealed class PasswordLoginTests(PasswordLoginFixture fixture)
{
    [Fact]
    public async Task Client_logs_in_with_the_password_and_gets_replies()
    {
        var lines = await fixture.WatchLogsAsync(
            "client", l => l.Count(x => x.Contains("World from 5556", StringComparison.Ordinal)) >= AppHostFixture.RequestCount, TimeSpan.FromMinutes(3));
        Assert.True(
            lines.Count(x => x.Contains("World from 5556", StringComparison.Ordinal)) >= AppHostFixture.RequestCount,
            "client log:\n" + string.Join('\n', lines.TakeLast(30)));
        var bastion = await fixture.WatchLogsAsync(
            "bastion", l => l.Any(x => x.Contains("Accepted password for tunnel", StringComparison.Ordinal)), TimeSpan.FromSeconds(30));
        Assert.Contains(bastion, x => x.Contains("Accepted password for tunnel", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Password_login_works_and_a_wrong_password_is_refused()
    {
        var options = fixture.BastionOptions();
        options.PrivateKeyPath = null;
        options.Password = fixture.Password;
        await using (var session = await SshTunnelSession.ConnectAsync(options))
        {
            Assert.True(session.IsConnected);
        }

        options.Password = fixture.Password + "x";
        await Assert.ThrowsAsync<SshTunnelAuthenticationException>(() => SshTunnelSession.ConnectAsync(options));
    }

    [Fact]
    public async Task The_password_is_not_left_in_the_container_its_logs_or_its_settings()
    {
        var bastion = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "bastion", e => e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string { Length: > 0 }));
        var id = (string)bastion.Snapshot.Properties.First(p => p.Name == "container.id").Value!;

        var inspect = await Docker.RunAsync("inspect", id); // environment, command line, mounts
        var files = await Docker.RunAsync("exec", id, "ls", "-A", "/etc/zmqaspire/secrets");
        var cmdlines = await Docker.RunAsync("exec", id, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '");
        var logs = await fixture.WatchLogsAsync("bastion", _ => false, TimeSpan.FromSeconds(2));

        Assert.DoesNotContain(fixture.Password, inspect, StringComparison.Ordinal);
        Assert.Equal(string.Empty, files.Trim()); // the start script removed the file
        Assert.DoesNotContain(fixture.Password, cmdlines, StringComparison.Ordinal);
        Assert.Contains("sshd", cmdlines, StringComparison.Ordinal); // control: the command lines were read
        Assert.DoesNotContain(logs, l => l.Contains(fixture.Password, StringComparison.Ordinal));
    }
}
