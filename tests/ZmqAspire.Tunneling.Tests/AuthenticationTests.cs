using System.Diagnostics;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>Logging in with each kind of credential, and the typed errors when it cannot.</summary>
[Collection(SshdCollection.Name)]
public sealed class AuthenticationTests(SshdFixture sshd)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(ClientKey.Ed25519, "ED25519")]
    [InlineData(ClientKey.Ecdsa, "ECDSA")]
    [InlineData(ClientKey.Rsa, "RSA")]
    [InlineData(ClientKey.EncryptedEd25519, "ED25519")]
    public async Task Each_key_type_logs_in(ClientKey key, string logKeyType)
    {
        var logPosition = sshd.LogPosition();
        using var server = ReplyServer.Start();

        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(key));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        var reply = Requests.Ask(req, "Hello", () => sshd.LogTail());

        Assert.Equal(server.ExpectedGreeting, reply);
        Assert.Equal(sshd.HostKeyFingerprint, session.HostKeyFingerprint);
        // sshd names the key that logged in: it must be this one.
        var expected = $"Accepted publickey for {SshdFixture.User} from 127.0.0.1";
        Assert.Equal(1, await sshd.WaitForLogLinesAsync(logPosition, expected, 1, TimeSpan.FromSeconds(10)));
        var line = sshd.LogSince(logPosition).Split('\n').Single(l => l.Contains(expected, StringComparison.Ordinal));
        Assert.Contains($"{logKeyType} {sshd.KeyFingerprint(key)}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Password_logs_in()
    {
        var logPosition = sshd.LogPosition();
        using var server = ReplyServer.Start();

        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(privateKeyPath: null, password: sshd.Password));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);

        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        Assert.Equal(1, await sshd.WaitForLogLinesAsync(logPosition, $"Accepted password for {SshdFixture.User}", 1, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Unauthorized_key_is_refused()
    {
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshTunnelAuthenticationException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Unauthorized)));

        Assert.True(watch.Elapsed < Bound, $"Took {watch.Elapsed}.");
        Assert.Equal(new[] { "publickey" }, ex.Methods);
        Assert.Equal(sshd.Server, ex.Server);
        Assert.Contains(SshdFixture.User, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_password_is_refused()
    {
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshTunnelAuthenticationException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(privateKeyPath: null, password: sshd.Password + "-wrong")));

        Assert.True(watch.Elapsed < Bound, $"Took {watch.Elapsed}.");
        Assert.Equal(new[] { "password" }, ex.Methods);
        Assert.DoesNotContain(sshd.Password, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Encrypted_key_without_passphrase_is_a_key_error()
    {
        var path = sshd.KeyPath(ClientKey.EncryptedEd25519);
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshPrivateKeyException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(path, passphrase: null)));

        Assert.True(watch.Elapsed < Bound, $"Took {watch.Elapsed}.");
        Assert.Equal(path, ex.KeyPath);
        Assert.Contains("passphrase", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Wrong_passphrase_is_a_key_error()
    {
        var path = sshd.KeyPath(ClientKey.EncryptedEd25519);
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshPrivateKeyException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(path, passphrase: sshd.Passphrase + "x")));

        Assert.True(watch.Elapsed < Bound, $"Took {watch.Elapsed}.");
        Assert.Equal(path, ex.KeyPath);
        Assert.DoesNotContain(sshd.Passphrase, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_key_file_is_a_key_error()
    {
        var path = Path.Combine(sshd.Directory, "no_such_key");
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SshPrivateKeyException>(
            () => SshTunnelSession.ConnectAsync(sshd.Options(path)));

        Assert.True(watch.Elapsed < Bound, $"Took {watch.Elapsed}.");
        Assert.Equal(path, ex.KeyPath);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }
}
