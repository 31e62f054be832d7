using NetMQ;
using ZmqAspire.AppHost;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>The AppHost with its one CURVE switch on: <c>ZmqAspire:Curve=true</c>.</summary>
public sealed class CurveFixture : AppHostFixture
{
    protected override IEnumerable<string> ExtraArguments => ["--ZmqAspire:Curve=true"];

    /// <summary>Gets the server's public key, as the AppHost stored it next to the SSH keys.</summary>
    public string ServerPublicKey => CurveCertificateFile.LoadPublicKey(Path.Combine(KeyDirectory, CurveKeyMaterial.PublicFileName));

    /// <summary>Gets the server's secret key (to prove it is nowhere it should not be).</summary>
    public string ServerSecretKey =>
        CurveCertificateFile.LoadSecret(Path.Combine(KeyDirectory, CurveKeyMaterial.PublicFileName + CurveCertificateFile.SecretSuffix)).SecretKeyZ85!;
}

[CollectionDefinition(Name)]
public sealed class CurveCollection : ICollectionFixture<CurveFixture>
{
    public const string Name = "AppHost with CurveZMQ";
}

/// <summary>
/// CurveZMQ (RFC 26) end to end through the real bastion and server containers: the real client
/// is served, a client without the server's key is not, the secret key stays in one file, and
/// the bastion → server leg carries only ciphertext.
/// </summary>
[Collection(CurveCollection.Name)]
public sealed class CurveEndToEndTests(CurveFixture fixture)
{
    [Fact]
    public async Task The_client_gets_its_replies_over_curve()
    {
        var client = await fixture.WatchLogsAsync(
            "client", l => l.Count(x => x.Contains(ServerLeg.ReplyText, StringComparison.Ordinal)) >= AppHostFixture.RequestCount, TimeSpan.FromMinutes(3));
        var server = await fixture.WatchLogsAsync("server", l => l.Any(x => x.Contains("CurveZMQ on", StringComparison.Ordinal)), TimeSpan.FromSeconds(30));
        Assert.True(
            client.Count(x => x.Contains(ServerLeg.ReplyText, StringComparison.Ordinal)) >= AppHostFixture.RequestCount,
            "client log:\n" + string.Join('\n', client.TakeLast(30)) + "\nserver log:\n" + string.Join('\n', server.TakeLast(30)));
        Assert.Contains(server, l => l.Contains("CurveZMQ on", StringComparison.Ordinal) && l.Contains(fixture.ServerPublicKey, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]   // another server's public key
    [InlineData(false)]  // no CURVE at all
    public async Task A_client_without_the_server_key_gets_no_reply_and_the_server_keeps_serving(bool wrongKey)
    {
        await using var session = await SshTunnelSession.ConnectAsync(fixture.BastionOptions());
        using var forward = session.OpenLocalForward(TcpEndpoint.Parse("tcp://server:5556"));
        using (var stranger = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = forward.LocalEndpoint.ToString(),
            CurveServerKey = wrongKey ? new NetMQCertificate().PublicKeyZ85 : null,
            RequestTimeout = TimeSpan.FromSeconds(3),
            MaxRetries = 0,
        }))
        {
            var error = Assert.Throws<ZmqRequestTimeoutException>(() => stranger.Send("Hello from a stranger", 0));
            Assert.Contains("No reply to request 0", error.Message, StringComparison.Ordinal);
        }

        // The server is still there for a client that has its key, on the same tunnel.
        using var client = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = forward.LocalEndpoint.ToString(),
            CurveServerKey = fixture.ServerPublicKey,
            RequestTimeout = TimeSpan.FromSeconds(30),
            MaxRetries = 0,
        });
        Assert.Equal(ServerLeg.ReplyText, client.Send("Hello", 0).BodyText);
        var server = await fixture.WatchLogsAsync("server", _ => false, TimeSpan.FromSeconds(2));
        Assert.DoesNotContain(server, l => l.Contains("Hello from a stranger", StringComparison.Ordinal)); // never decrypted, never served
    }

    [Fact]
    public async Task With_curve_the_bastion_to_server_leg_carries_only_ciphertext()
    {
        var result = await ServerLeg.SendCapturedAsync(fixture, fixture.ServerPublicKey);

        Assert.Equal(ServerLeg.ReplyText, result.Reply);
        Assert.True(result.Complete, "the capture never showed the reply:\n" + result);
        Assert.NotEmpty(result.Connections);
        Assert.All(result.Connections, c => Assert.Equal("CURVE", c.Mechanism));
        Assert.True(result.ShowsCurveMessages, "no encrypted MESSAGE command seen both ways:\n" + result);
        Assert.False(result.Shows(result.Probe), "request body seen in plaintext:\n" + result);
        Assert.False(result.Shows(ServerLeg.ReplyText), "reply seen in plaintext:\n" + result);
    }

    [Fact]
    public async Task The_server_secret_key_is_only_in_its_0400_file()
    {
        var secret = fixture.ServerSecretKey;
        var server = await fixture.ContainerIdAsync("server");
        const string file = "/run/zmqaspire/curve_server.key_secret";

        // The server's user reads it; no other user can (the image has no stat: ask bash as each).
        await Docker.RunAsync("exec", server, "/bin/bash", "-c", $"[[ -O {file} && -r {file} && ! -w {file} ]]");
        await Assert.ThrowsAsync<InvalidOperationException>(() => Docker.RunAsync("exec", "-u", "10002:10002", server, "/bin/bash", "-c", $"exec 3<{file}"));

        // Not in the container's settings (environment, command line, mounts), nor in any log.
        Assert.DoesNotContain(secret, await Docker.RunAsync("inspect", server), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, await Docker.RunAsync("inspect", await fixture.ContainerIdAsync("bastion")), StringComparison.Ordinal);
        foreach (var resource in new[] { "server", "client", "bastion" })
        {
            var lines = await fixture.WatchLogsAsync(resource, _ => false, TimeSpan.FromSeconds(2));
            Assert.NotEmpty(lines); // control: the log was read
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }
}
