using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The seed's client with the seed's password (<c>tunnel_connection(..., password=...)</c>)
/// against the AppHost with password login and AES-CTR opted in: paramiko mode (Debian 12's
/// paramiko 2.12, no AEAD ciphers) negotiates AES-CTR and logs in with the password; pyzmq's
/// OpenSSH mode answers ssh's password prompt through pexpect and reports a wrong password. The local user has the host key in known_hosts and no SSH key.
/// </summary>
[Collection(PasswordLoginCollection.Name)]
public sealed class SeedPasswordTests(PasswordLoginFixture fixture)
{
    [Fact]
    public void Pyzmq_paramiko_mode_with_the_password_gets_9_replies_over_AES_CTR()
    {
        using var peer = SeedPeers.For(fixture, withClientKey: false);
        var environment = Environment(peer, fixture.Password);
        environment["SEED_PARAMIKO"] = "yes";
        var result = peer.RunPython("seed_client.py", environment);
        SeedClientTests.AssertNineReplies(result);
    }

    [Fact]
    public void Pyzmq_OpenSSH_mode_reports_a_wrong_password()
    {
        // sshd refuses the password and ssh asks again; pyzmq says so and, with no terminal to
        // ask the user on, stops instead of retrying with the same wrong password.
        using var peer = SeedPeers.For(fixture, withClientKey: false);
        var result = peer.RunPython("seed_client.py", Environment(peer, fixture.Password + "x"));
        Assert.True(result.ExitCode != 0, SeedPeer.Describe(result));
        Assert.Contains("Password rejected, try again", result.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(SeedPeer.Replies(result));
    }

    [Fact]
    public async Task AES_CTR_is_offered_after_the_AEAD_ciphers_and_only_with_ETM_MACs()
    {
        var id = await fixture.ContainerIdAsync("bastion");
        var effective = (await Docker.RunAsync("exec", id, "sshd", "-T")).Split('\n');
        Assert.Contains("ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr", effective);
        Assert.Contains("macs hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com", effective);
    }

    private static Dictionary<string, string> Environment(SeedPeer peer, string password) =>
        new() { ["SEED_SSH_SERVER"] = peer.SshServer, ["SEED_SSH_PASSWORD"] = password };
}
