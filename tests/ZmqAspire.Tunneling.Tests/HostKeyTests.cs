namespace ZmqAspire.Tunneling.Tests;

/// <summary>Host key checking against the real sshd's ed25519 key: pins and known_hosts files.</summary>
[Collection(SshdCollection.Name)]
public sealed class HostKeyTests(SshdFixture sshd)
{
    [Fact]
    public void Fixture_fingerprint_from_ssh_keygen_matches_library_computation()
    {
        // The fixture computed it with 'ssh-keygen -lf -E sha256'; recompute from the blob here too.
        Assert.StartsWith("SHA256:", sshd.HostKeyFingerprint, StringComparison.Ordinal);
        Assert.Equal(sshd.HostKeyFingerprint, HostKeyPolicy.Fingerprint(Convert.FromBase64String(sshd.HostKeyBase64)));
        Assert.Equal("ssh-ed25519", sshd.HostKeyType);
    }

    [Fact]
    public async Task Pinned_wrong_fingerprint_is_rejected_as_changed()
    {
        var logPosition = sshd.LogPosition();
        var options = sshd.Options(ClientKey.Ed25519, HostKeyPolicy.Pinned(sshd.OtherHostKeyFingerprint));

        var ex = await Assert.ThrowsAsync<SshHostKeyRejectedException>(() => SshTunnelSession.ConnectAsync(options));

        Assert.Equal(HostKeyRejectionReason.Changed, ex.Reason);
        Assert.Equal(sshd.HostKeyFingerprint, ex.SeenFingerprint);
        Assert.Equal("ssh-ed25519", ex.KeyType);
        Assert.Equal(new[] { sshd.OtherHostKeyFingerprint }, ex.ExpectedFingerprints);
        Assert.Contains(sshd.HostKeyFingerprint, ex.Message, StringComparison.Ordinal);
        Assert.Contains(sshd.OtherHostKeyFingerprint, ex.Message, StringComparison.Ordinal);
        await AssertNoCredentialSentAsync(logPosition);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Pinned_right_fingerprint_connects(bool withoutPrefix, bool amongOthers)
    {
        var pin = withoutPrefix ? sshd.HostKeyFingerprint["SHA256:".Length..] : sshd.HostKeyFingerprint;
        var policy = amongOthers ? HostKeyPolicy.Pinned(sshd.OtherHostKeyFingerprint, pin) : HostKeyPolicy.Pinned(pin);

        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519, policy));

        Assert.True(session.IsConnected);
        Assert.Equal(sshd.HostKeyFingerprint, session.HostKeyFingerprint);
    }

    [Fact]
    public async Task Known_hosts_with_another_key_for_the_host_is_rejected_as_changed()
    {
        var logPosition = sshd.LogPosition();
        var file = sshd.WriteFile("known_hosts_changed",
            SshdFixture.KnownHostsLine("127.0.0.1", sshd.Port, "ssh-ed25519", sshd.OtherHostKeyBase64) + "\n");

        var ex = await Assert.ThrowsAsync<SshHostKeyRejectedException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519, HostKeyPolicy.KnownHosts(file))));

        Assert.Equal(HostKeyRejectionReason.Changed, ex.Reason);
        Assert.Equal(sshd.HostKeyFingerprint, ex.SeenFingerprint);
        Assert.Equal(new[] { sshd.OtherHostKeyFingerprint }, ex.ExpectedFingerprints);
        Assert.Contains(sshd.HostKeyFingerprint, ex.Message, StringComparison.Ordinal);
        await AssertNoCredentialSentAsync(logPosition);
    }

    [Fact]
    public async Task Known_hosts_without_the_host_is_rejected_as_unknown()
    {
        // The right key, but listed for other names: the default port, another port, another host.
        var file = sshd.WriteFile("known_hosts_unknown", string.Join('\n',
            "# no entry for [127.0.0.1]:PORT",
            $"127.0.0.1 ssh-ed25519 {sshd.HostKeyBase64}",
            SshdFixture.KnownHostsLine("127.0.0.1", sshd.Port == 65535 ? 65534 : sshd.Port + 1, "ssh-ed25519", sshd.HostKeyBase64),
            $"otherhost.example ssh-ed25519 {sshd.HostKeyBase64}",
            string.Empty));

        var ex = await Assert.ThrowsAsync<SshHostKeyRejectedException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519, HostKeyPolicy.KnownHosts(file))));

        Assert.Equal(HostKeyRejectionReason.Unknown, ex.Reason);
        Assert.Equal(sshd.HostKeyFingerprint, ex.SeenFingerprint);
        Assert.Empty(ex.ExpectedFingerprints);
        Assert.Contains(sshd.HostKeyFingerprint, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Known_hosts_with_the_right_key_connects()
    {
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519, HostKeyPolicy.KnownHosts(sshd.KnownHostsPath)));

        Assert.True(session.IsConnected);
        Assert.Equal(sshd.HostKeyFingerprint, session.HostKeyFingerprint);
    }

    [Fact]
    public async Task Hashed_known_hosts_with_the_right_key_connects()
    {
        var file = sshd.WriteFile("known_hosts_hashed", File.ReadAllText(sshd.KnownHostsPath));
        ProcessRunner.RunChecked("/usr/bin/ssh-keygen", ["-H", "-f", file]);
        var hashed = File.ReadAllText(file);
        Assert.StartsWith("|1|", hashed, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", hashed, StringComparison.Ordinal);

        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519, HostKeyPolicy.KnownHosts(file)));

        Assert.True(session.IsConnected);
        Assert.Equal(sshd.HostKeyFingerprint, session.HostKeyFingerprint);
    }

    /// <summary>
    /// A refused host key must end the connection during key exchange, before any login attempt:
    /// sshd logs every attempt ("Accepted/Failed/Postponed ... for USER") at VERBOSE.
    /// </summary>
    private async Task AssertNoCredentialSentAsync(long logPosition)
    {
        // Wait until sshd has logged the end of that connection, so an attempt would be in the log.
        var closed = await sshd.WaitForLogLinesAsync(logPosition, "[preauth]", 1, TimeSpan.FromSeconds(10));
        var log = sshd.LogSince(logPosition);
        Assert.True(closed >= 1, "sshd logged no end of the pre-auth connection:" + sshd.LogTail());
        Assert.DoesNotContain($"for {SshdFixture.User}", log, StringComparison.Ordinal);
    }
}
