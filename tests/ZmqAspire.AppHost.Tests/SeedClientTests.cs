using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The seed's clients, unmodified, against the AppHost's bastion with its default settings (key
/// login, AEAD ciphers only): pyzmq's <c>tunnel_connection</c> in its default OpenSSH mode, in
/// paramiko mode (refused for want of a cipher), and the manual <c>ssh -L ... -N</c> with a plain REQ. Run as a fresh local user whose only
/// preparation is the bastion's host key in known_hosts and the client key as ~/.ssh/id_ed25519.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class SeedClientTests(AppHostFixture fixture)
{
    [Fact]
    public async Task Manual_ssh_L_then_a_plain_REQ_gets_9_replies()
    {
        using var peer = SeedPeers.For(fixture);
        var localPort = LoopbackPort.Free();
        var ssh = new System.Text.StringBuilder();
        var tunnel = peer.StartSsh(["-N", "-L", $"127.0.0.1:{localPort}:server:5556"], command: null, ssh);
        try
        {
            await LoopbackPort.WaitListeningAsync(localPort, TimeSpan.FromSeconds(30), () => ssh.ToString());
            var result = peer.RunPython("manual_client.py", new Dictionary<string, string> { ["SEED_LOCAL_PORT"] = localPort.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            AssertNineReplies(result);
        }
        finally
        {
            ProcessRunner.Stop(tunnel);
        }
    }

    [Fact]
    public void Pyzmq_paramiko_mode_is_refused_for_want_of_a_cipher_unless_AES_CTR_is_on()
    {
        // Debian 12's paramiko 2.12 has no AES-GCM or ChaCha20; the default bastion offers only
        // those. pyzmq first tries a passwordless paramiko login in the caller's process, which
        // raises paramiko's own reason. (SeedPasswordTests: the same client with the setting on.)
        using var peer = SeedPeers.For(fixture);
        var result = peer.RunPython("seed_client.py", new Dictionary<string, string> { ["SEED_SSH_SERVER"] = peer.SshServer, ["SEED_PARAMIKO"] = "yes" });
        Assert.True(result.ExitCode != 0, SeedPeer.Describe(result));
        Assert.Contains("Incompatible ssh server (no acceptable ciphers)", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(SeedPeer.Replies(result));
    }

    [Fact]
    public void Pyzmq_OpenSSH_mode_refuses_a_bastion_whose_host_key_is_unknown()
    {
        // Empty known_hosts: ssh asks whether to trust the key, and pyzmq refuses rather than answer.
        using var peer = SeedPeers.For(fixture, trustHostKey: false);
        var result = peer.RunPython("seed_client.py", new Dictionary<string, string> { ["SEED_SSH_SERVER"] = peer.SshServer });
        Assert.True(result.ExitCode != 0, SeedPeer.Describe(result));
        Assert.Contains("The authenticity of the host can't be established.", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(SeedPeer.Replies(result));
    }

    [Fact]
    public async Task Pyzmq_default_OpenSSH_mode_through_the_users_control_master_gets_9_replies()
    {
        // pyzmq first runs `ssh -O check`: with a ControlPath in the user's ssh config and a master
        // running (`ssh -M -N`), it adds its forward to the master (`ssh -O forward -L ...`) and
        // connects. The bastion must serve a forward asked for over a multiplexed connection.
        // (Without a master pyzmq runs `ssh -f ... sleep N` under pexpect; docs/deploy.md says why
        // that path is not tested here: pexpect 4 lets the kernel's SIGHUP kill ssh's background
        // process on this machine, against any sshd.)
        using var peer = SeedPeers.For(fixture);
        peer.WriteSshConfig("Host *\n  ControlPath ~/.ssh/cm-%C\n");
        var output = new System.Text.StringBuilder();
        var master = peer.StartSsh(["-M", "-N", "-o", "BatchMode=yes"], command: null, output);
        try
        {
            await peer.WaitForControlSocketAsync(TimeSpan.FromSeconds(30), () => output.ToString());
            var result = peer.RunPython("seed_client.py", new Dictionary<string, string> { ["SEED_SSH_SERVER"] = peer.SshServer });
            AssertNineReplies(result);
        }
        finally
        {
            ProcessRunner.Stop(master);
        }
    }

    internal static void AssertNineReplies(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, SeedPeer.Describe(result));
        var expected = Enumerable.Range(0, 9).Select(n => $"Received reply {n} [ World from 5556 ]");
        Assert.Equal(expected, SeedPeer.Replies(result));
    }
}
