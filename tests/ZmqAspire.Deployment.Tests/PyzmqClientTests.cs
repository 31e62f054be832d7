using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.Deployment.Tests;

/// <summary>
/// The seed's own client, pyzmq with <c>zmq.ssh.tunnel_connection</c>, unmodified, through OUR
/// compose bastion to OUR NetMQ server: run as a fresh local user whose only preparation is the
/// bastion's host key in <c>~/.ssh/known_hosts</c> and the client key as <c>~/.ssh/id_ed25519</c>
/// (the interop deployment turns AES-CTR on for Debian's paramiko 2.12).
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class PyzmqClientTests(InteropFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Pyzmq_paramiko_tunnel_gets_the_servers_replies()
    {
        using var peer = Peer(fixture.Project.HostPublicKey);
        var result = Run(peer, paramiko: true);
        Assert.True(result.ExitCode == 0, SeedPeer.Describe(result));
        Assert.Equal(Enumerable.Range(0, 9).Select(n => $"Received reply {n} [ World from 5556 ]"), SeedPeer.Replies(result));
    }

    [Fact]
    public async Task Pyzmq_openssh_tunnel_through_a_control_master_gets_the_servers_replies()
    {
        // pyzmq's OpenSSH mode adds its forward to the user's master (ssh -O forward); its other
        // path, ssh -f under pexpect, is lost to SIGHUP on Debian 12 (docs/deploy.md).
        using var peer = Peer(fixture.Project.HostPublicKey);
        peer.WriteSshConfig("Host *\n  ControlPath ~/.ssh/cm-%C\n");
        var log = new System.Text.StringBuilder();
        var master = peer.StartSsh(["-M", "-N", "-o", "BatchMode=yes"], command: null, log);
        try
        {
            await peer.WaitForControlSocketAsync(TimeSpan.FromSeconds(30), () => log.ToString());
            var result = Run(peer, paramiko: false);
            Assert.True(result.ExitCode == 0, SeedPeer.Describe(result));
            Assert.Equal(9, SeedPeer.Replies(result).Count);
        }
        finally
        {
            ProcessRunner.Stop(master);
        }
    }

    [Theory]
    [InlineData(true, false, "not found in known_hosts")]
    [InlineData(true, true, "does not match")]
    [InlineData(false, false, "The authenticity of the host can't be established.")]
    public void Pyzmq_refuses_a_bastion_whose_host_key_it_does_not_know(bool paramiko, bool otherKeyKnown, string expected)
    {
        // known_hosts lacks the bastion, or names it with some other key: pyzmq refuses, for that
        // reason, and never prompts (no terminal, stdin closed).
        var otherKey = File.ReadAllText(Path.Combine(fixture.Project.KeyDirectory, "client_ed25519_key.pub")).Trim();
        using var peer = Peer(otherKeyKnown ? otherKey : null);
        var result = Run(peer, paramiko);
        Assert.True(result.ExitCode != 0, SeedPeer.Describe(result));
        Assert.Contains(expected, result.StandardError, StringComparison.Ordinal);
        Assert.Empty(SeedPeer.Replies(result));
    }

    private SeedPeer Peer(string? knownHostKey) =>
        new("127.0.0.1", fixture.Project.SshPort, knownHostKey, fixture.Project.ClientKeyPath);

    private ProcessResult Run(SeedPeer peer, bool paramiko)
    {
        var environment = new Dictionary<string, string> { ["SEED_SSH_SERVER"] = peer.SshServer };
        if (paramiko)
        {
            environment["SEED_PARAMIKO"] = "yes";
        }

        var result = peer.RunPython("seed_client.py", environment, TimeSpan.FromSeconds(90));
        output.WriteLine(SeedPeer.Describe(result));
        return result;
    }
}
