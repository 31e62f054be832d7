using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>
/// Every refusal gives its own documented exit code and a message that names the reason: a
/// script can tell a wrong pin from a wrong key from a closed target without parsing text.
/// </summary>
[Collection(CliSshdCollection.Name)]
public sealed class RefusalTests(CliSshdFixture sshd)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_wrong_host_key_exits_78_naming_the_expected_and_the_seen_fingerprint()
    {
        using var server = ReplyServer.Start();
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.OtherHostKeyFingerprint, "--identity", sshd.KeyPath], Generous);
        Assert.True(run.Process.ExitCode == 78, run.Describe);
        Assert.Contains($"expected {sshd.OtherHostKeyFingerprint}", run.StandardError, StringComparison.Ordinal);
        Assert.Contains($"seen ssh-ed25519 {sshd.HostKeyFingerprint}", run.StandardError, StringComparison.Ordinal);
        Assert.Empty(run.StandardOutput);
    }

    [Fact]
    public async Task A_known_hosts_file_without_the_bastion_exits_78_unknown()
    {
        using var server = ReplyServer.Start();
        var empty = Path.Combine(sshd.Directory, "empty_known_hosts");
        await File.WriteAllTextAsync(empty, string.Empty);
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--known-hosts", empty, "--identity", sshd.KeyPath], Generous);
        Assert.True(run.Process.ExitCode == 78, run.Describe);
        Assert.Contains($"is unknown (ssh-ed25519 {sshd.HostKeyFingerprint})", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_the_bastion_does_not_accept_exits_77()
    {
        using var server = ReplyServer.Start();
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.UnauthorizedKeyPath], Generous);
        Assert.True(run.Process.ExitCode == 77, run.Describe);
        Assert.Contains($"SSH login as '{CliSshdFixture.UserName}' on 127.0.0.1:{sshd.Port.ToString(CultureInfo.InvariantCulture)} was refused (tried: publickey", run.StandardError, StringComparison.Ordinal);
        Assert.Contains(sshd.UnauthorizedKeyPath, run.StandardError, StringComparison.Ordinal); // the key it offered is named
    }

    [Fact]
    public async Task A_wrong_password_from_the_environment_exits_77()
    {
        using var server = ReplyServer.Start();
        var run = await TunnelProcess.RunAsync(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--password-env", "TUNNEL_PASSWORD"],
            Generous,
            new Dictionary<string, string> { ["TUNNEL_PASSWORD"] = "not-" + sshd.Password });
        Assert.True(run.Process.ExitCode == 77, run.Describe);
        Assert.Contains("was refused (tried: password)", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_target_exits_76_with_the_bastions_reason()
    {
        var closed = LoopbackPort.Free();
        var target = string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{closed}");
        var run = await TunnelProcess.RunAsync([sshd.Server, target, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath], Generous);
        Assert.True(run.Process.ExitCode == 76, run.Describe);
        Assert.Contains($"the bastion refused the forward to {target}", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("SSH_OPEN_CONNECT_FAILED", run.StandardError, StringComparison.Ordinal);
        Assert.Empty(run.StandardOutput);
    }

    [Fact]
    public async Task A_target_PermitOpen_does_not_allow_exits_76_administratively_prohibited()
    {
        using var server = ReplyServer.Start();
        // The fixture's sshd permits 127.0.0.1:* only; "localhost" is another name, so refused.
        var target = string.Create(CultureInfo.InvariantCulture, $"tcp://localhost:{server.Port}");
        var run = await TunnelProcess.RunAsync([sshd.Server, target, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath], Generous);
        Assert.True(run.Process.ExitCode == 76, run.Describe);
        Assert.Contains("SSH_OPEN_ADMINISTRATIVELY_PROHIBITED", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_bastion_exits_69()
    {
        using var server = ReplyServer.Start();
        var nothing = LoopbackPort.Free();
        var bastion = string.Create(CultureInfo.InvariantCulture, $"{CliSshdFixture.UserName}@127.0.0.1:{nothing}");
        var run = await TunnelProcess.RunAsync([bastion, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath], Generous);
        Assert.True(run.Process.ExitCode == 69, run.Describe);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"SSH server 127.0.0.1:{nothing} is unreachable"), run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_known_hosts_file_exits_66_naming_it_once()
    {
        using var server = ReplyServer.Start();
        var missing = Path.Combine(sshd.Directory, "no_such_known_hosts");
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--known-hosts", missing, "--identity", sshd.KeyPath], Generous);
        Assert.True(run.Process.ExitCode == 66, run.Describe);
        var error = run.StandardError.Split('\n')[0];
        Assert.Contains($"The known_hosts file '{missing}' does not exist", error, StringComparison.Ordinal);
        Assert.True(error.Split(missing).Length == 2, run.Describe);
    }

    [Fact]
    public async Task No_identity_and_no_default_key_exits_66_naming_the_options_to_give()
    {
        using var server = ReplyServer.Start();
        var emptyHome = Directory.CreateDirectory(Path.Combine(sshd.Directory, "home-without-keys")).FullName;
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint], Generous, new Dictionary<string, string> { ["HOME"] = emptyHome });
        Assert.True(run.Process.ExitCode == 66, run.Describe);
        Assert.Contains("none of the default keys exists", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("Give --identity FILE or --password-env VAR.", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_identity_file_exits_66()
    {
        using var server = ReplyServer.Start();
        var missing = Path.Combine(sshd.Directory, "no_such_key");
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", missing], Generous);
        Assert.True(run.Process.ExitCode == 66, run.Describe);
        Assert.Contains(missing, run.StandardError, StringComparison.Ordinal);
        Assert.Contains("does not exist", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_encrypted_key_without_ask_passphrase_exits_66_without_prompting()
    {
        using var server = ReplyServer.Start();
        // stdin is a pipe here: a prompt would hang the run, so the time limit is part of the assertion.
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.EncryptedKeyPath], TimeSpan.FromSeconds(30));
        Assert.True(run.Process.ExitCode == 66, run.Describe);
        Assert.Contains("it is encrypted and no passphrase was given", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("Give --ask-passphrase", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_local_port_in_use_exits_71()
    {
        using var server = ReplyServer.Start();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--local-port", port], Generous);
        Assert.True(run.Process.ExitCode == 71, run.Describe);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_health_port_in_use_exits_71()
    {
        using var server = ReplyServer.Start();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var run = await TunnelProcess.RunAsync([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--health-port", port], Generous);
        Assert.True(run.Process.ExitCode == 71, run.Describe);
        Assert.Contains($"cannot serve the health report on 127.0.0.1:{port}", run.StandardError, StringComparison.Ordinal);
    }
}
