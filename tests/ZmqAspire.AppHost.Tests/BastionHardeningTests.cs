using System.Diagnostics;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// The bastion's hardening, checked against the running container: sshd's effective
/// configuration (<c>sshd -T</c>), live algorithm negotiation with OpenSSH's client, and logins
/// with keys the bastion does not know.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class BastionHardeningTests(AppHostFixture fixture)
{
    private static readonly Dictionary<string, string> Expected = new()
    {
        ["permitrootlogin"] = "no",
        ["passwordauthentication"] = "no",
        ["kbdinteractiveauthentication"] = "no",
        ["authenticationmethods"] = "publickey",
        ["allowusers"] = "tunnel",
        ["permittty"] = "no",
        ["maxsessions"] = "1",
        ["allowtcpforwarding"] = "local",
        ["permitopen"] = "server:5556",
        ["allowstreamlocalforwarding"] = "no",
        ["allowagentforwarding"] = "no",
        ["x11forwarding"] = "no",
        ["permittunnel"] = "no",
        ["gatewayports"] = "no",
        ["permituserrc"] = "no",
        ["hostkeyalgorithms"] = "ssh-ed25519",
        ["kexalgorithms"] = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org",
        ["ciphers"] = "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com",
        ["macs"] = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com",
        ["logingracetime"] = "20",
        ["maxstartups"] = "10:30:60",
        ["maxauthtries"] = "3",
    };

    [Fact]
    public async Task Effective_sshd_configuration_is_hardened()
    {
        var effective = (await Docker.RunAsync("exec", await BastionContainerAsync(), "sshd", "-T"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .Where(parts => parts.Length == 2)
            .GroupBy(parts => parts[0])
            .ToDictionary(g => g.Key, g => string.Join(' ', g.Select(p => p[1])));

        var wrong = Expected
            .Where(e => !effective.TryGetValue(e.Key, out var actual) || actual != e.Value)
            .Select(e => $"{e.Key}: expected '{e.Value}', got '{effective.GetValueOrDefault(e.Key)}'")
            .ToList();
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    [Fact]
    public async Task Sshd_configuration_is_read_only_and_root_owned()
    {
        var stat = await Docker.RunAsync("exec", await BastionContainerAsync(), "stat", "-c", "%U %a", "/etc/ssh/sshd_config");
        Assert.Equal("root 444", stat.Trim());
    }

    [Theory]
    [InlineData("Ciphers=aes128-ctr", "no matching cipher found")]
    [InlineData("KexAlgorithms=diffie-hellman-group14-sha256", "no matching key exchange method found")]
    [InlineData("HostKeyAlgorithms=rsa-sha2-512", "no matching host key type found")]
    [InlineData("Ciphers=aes256-cbc", "no matching cipher found")]
    public async Task Weak_algorithms_are_refused(string option, string expectedError)
    {
        // MACs are not probed live: with AEAD-only ciphers no MAC is ever negotiated (the MAC
        // list is checked through sshd -T above).
        var result = await OpenSshAsync(["-o", option], untilStderrContains: null);
        Assert.Contains(expectedError, result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenSsh_client_with_default_algorithms_logs_in()
    {
        // The control for the refusals above: same client, same pinned key, no weakened option.
        var result = await OpenSshAsync([], untilStderrContains: "Authenticated to");
        Assert.Contains("Authenticated to", result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_the_bastion_does_not_know_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("zmqaspire-stranger-");
        try
        {
            var key = Path.Combine(dir.FullName, "id_ed25519");
            await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", string.Empty, "-f", key]);
            var options = fixture.BastionOptions();
            options.PrivateKeyPath = key;
            await Assert.ThrowsAsync<SshTunnelAuthenticationException>(() => SshTunnelSession.ConnectAsync(options));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private async Task<string> BastionContainerAsync()
    {
        var bastion = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "bastion", e => e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string { Length: > 0 }));
        return (string)bastion.Snapshot.Properties.First(p => p.Name == "container.id").Value!;
    }

    /// <summary>
    /// Runs OpenSSH's client against the bastion with the pinned host key in its own
    /// known_hosts (StrictHostKeyChecking=yes, BatchMode: it never prompts), returning stderr.
    /// </summary>
    private async Task<string> OpenSshAsync(string[] options, string? untilStderrContains)
    {
        var endpoint = fixture.BastionOptions().Server;
        var dir = Directory.CreateTempSubdirectory("zmqaspire-openssh-");
        try
        {
            var knownHosts = Path.Combine(dir.FullName, "known_hosts");
            var hostKey = fixture.Keys.HostPublicKey.Split(' ');
            await File.WriteAllTextAsync(knownHosts, $"[{endpoint.Host}]:{endpoint.Port} {hostKey[0]} {hostKey[1]}\n");
            string[] args =
            [
                "-F", "/dev/null", "-v", "-N",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}",
                "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "-i", fixture.Keys.ClientPrivateKeyPath,
                "-p", endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                .. options, $"{endpoint.User}@{endpoint.Host}",
            ];
            return await RunAsync("ssh", args, untilStderrContains);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<string> RunAsync(string file, string[] args, string? untilStderrContains = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stderr = new System.Text.StringBuilder();
        var found = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }

            if (untilStderrContains is not null && e.Data.Contains(untilStderrContains, StringComparison.Ordinal))
            {
                found.TrySetResult();
            }
        };
        process.BeginErrorReadLine();
        _ = process.StandardOutput.ReadToEndAsync();
        await Task.WhenAny(process.WaitForExitAsync(), found.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        lock (stderr)
        {
            return stderr.ToString();
        }
    }
}
