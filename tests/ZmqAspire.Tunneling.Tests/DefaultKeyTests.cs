namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// With no key named and no password, the default identities are tried as OpenSSH's ssh does
/// in batch mode: in its order, a key that needs a passphrase we do not have is skipped, and the
/// next one logs in; when none works the error names each key and why. A temp HOME each.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class DefaultKeyTests(SshdFixture sshd)
{
    [Fact]
    public async Task An_encrypted_default_key_is_skipped_and_the_next_one_logs_in()
    {
        using var home = new HomeDirectory();
        home.AddKey("id_ed25519", sshd.KeyPath(ClientKey.EncryptedEd25519));
        home.AddKey("id_ecdsa", sshd.KeyPath(ClientKey.Ecdsa));
        var logPosition = sshd.LogPosition();

        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(privateKeyPath: null));

        var accepted = $"Accepted publickey for {SshdFixture.User} from 127.0.0.1";
        Assert.Equal(1, await sshd.WaitForLogLinesAsync(logPosition, accepted, 1, TimeSpan.FromSeconds(10)));
        var line = sshd.LogSince(logPosition).Split('\n').Single(l => l.Contains(accepted, StringComparison.Ordinal));
        Assert.Contains($"ECDSA {sshd.KeyFingerprint(ClientKey.Ecdsa)}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Default_keys_are_offered_in_OpenSSHs_order()
    {
        // id_rsa comes before id_ed25519 in ssh's order: the unauthorized id_rsa is offered (and
        // refused) first, then id_ed25519 logs in.
        using var home = new HomeDirectory();
        home.AddKey("id_rsa", sshd.KeyPath(ClientKey.Unauthorized));
        home.AddKey("id_ed25519", sshd.KeyPath(ClientKey.Ed25519));
        var logPosition = sshd.LogPosition();

        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(privateKeyPath: null));

        var accepted = $"Accepted publickey for {SshdFixture.User} from 127.0.0.1";
        Assert.Equal(1, await sshd.WaitForLogLinesAsync(logPosition, accepted, 1, TimeSpan.FromSeconds(10)));
        var log = sshd.LogSince(logPosition);
        var refused = log.IndexOf(sshd.KeyFingerprint(ClientKey.Unauthorized), StringComparison.Ordinal);
        var loggedIn = log.IndexOf(sshd.KeyFingerprint(ClientKey.Ed25519), StringComparison.Ordinal);
        Assert.True(refused >= 0 && refused < loggedIn, "the unauthorized id_rsa was not offered before id_ed25519:\n" + log);
    }

    [Fact]
    public async Task When_no_default_key_works_the_error_names_each_and_why()
    {
        using var home = new HomeDirectory();
        var encrypted = home.AddKey("id_ed25519", sshd.KeyPath(ClientKey.EncryptedEd25519));
        var unauthorized = home.AddKey("id_ecdsa", sshd.KeyPath(ClientKey.Unauthorized));

        var ex = await Assert.ThrowsAsync<SshTunnelAuthenticationException>(() => SshTunnelSession.ConnectAsync(sshd.Options(privateKeyPath: null)));

        Assert.Contains($"keys offered: {unauthorized}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"{encrypted} (it is encrypted and no passphrase was given)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_no_usable_default_key_and_no_password_the_error_names_the_setting_and_the_keys()
    {
        using var home = new HomeDirectory();
        var encrypted = home.AddKey("id_ed25519", sshd.KeyPath(ClientKey.EncryptedEd25519));

        var ex = await Assert.ThrowsAsync<SshTunnelConfigurationException>(() => SshTunnelSession.ConnectAsync(sshd.Options(privateKeyPath: null)));

        Assert.Equal(nameof(SshTunnelOptions.PrivateKeyPath), ex.Setting);
        Assert.Contains("set PrivateKeyPath or Password", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"{encrypted} (it is encrypted and no passphrase was given)", ex.Message, StringComparison.Ordinal);
    }
}
