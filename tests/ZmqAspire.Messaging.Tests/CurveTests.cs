using NetMQ;

namespace ZmqAspire.Messaging.Tests;

/// <summary>
/// CurveZMQ (RFC 26) between a <see cref="ZmqRequester"/> and a REP socket, over loopback with
/// real NetMQ peers, and its key files checked against pyzmq (libzmq's CURVE).
/// </summary>
public sealed class CurveTests
{
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromSeconds(2);

    [Fact]
    public void A_client_with_the_server_public_key_gets_replies()
    {
        var serverKeys = new NetMQCertificate();
        using var server = new ResponderHost(reply: "World", curve: serverKeys);
        using var requester = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, CurveServerKey = serverKeys.PublicKeyZ85 });

        Assert.Equal("World", requester.Send("Hello", 0).BodyText);
        Assert.Equal("World", requester.Send("Hello", 1).BodyText);
    }

    [Theory]
    [InlineData(true)]   // another server's key
    [InlineData(false)]  // no CURVE at all (ZMTP NULL)
    public void A_client_without_the_right_key_gets_no_reply_and_the_server_keeps_serving(bool wrongKey)
    {
        var serverKeys = new NetMQCertificate();
        using var server = new ResponderHost(reply: "World", curve: serverKeys);
        using (var stranger = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = server.Endpoint,
            CurveServerKey = wrongKey ? new NetMQCertificate().PublicKeyZ85 : null,
            RequestTimeout = ShortTimeout,
            MaxRetries = 0,
        }))
        {
            var error = Assert.Throws<ZmqRequestTimeoutException>(() => stranger.Send("Hello", 0));
            if (wrongKey)
            {
                Assert.Contains("CURVE is on", error.Message, StringComparison.Ordinal); // says what to check
            }
        }

        Assert.Empty(server.Received); // the handshake failed: nothing reached the application

        using var client = new ZmqRequester(new ZmqRequesterOptions { Endpoint = server.Endpoint, CurveServerKey = serverKeys.PublicKeyZ85 });
        Assert.Equal("World", client.Send("Hello", 0).BodyText);
    }

    [Theory]
    [InlineData("")]
    [InlineData("too-short")]
    [InlineData("0123456789012345678901234567890123456789\"")]
    public void A_malformed_server_key_is_refused_at_once(string key)
    {
        Assert.False(CurveSecurity.IsPublicKey(key));
        Assert.Throws<FormatException>(() => new ZmqRequester(new ZmqRequesterOptions { Endpoint = "tcp://127.0.0.1:1", CurveServerKey = key }));
    }

    [Fact]
    public async Task Certificate_files_round_trip_the_secret_is_0600_and_pyzmq_reads_them()
    {
        var dir = Directory.CreateTempSubdirectory("zmqaspire-curve-");
        try
        {
            var keys = new NetMQCertificate();
            var path = Path.Combine(dir.FullName, "server.key");
            CurveCertificateFile.Save(keys, path);

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path + CurveCertificateFile.SecretSuffix));
            }

            Assert.DoesNotContain(keys.SecretKeyZ85!, await File.ReadAllTextAsync(path), StringComparison.Ordinal);
            Assert.Equal(keys.PublicKeyZ85, CurveCertificateFile.LoadPublicKey(path));
            var loaded = CurveCertificateFile.LoadSecret(path + CurveCertificateFile.SecretSuffix);
            Assert.Equal(keys.SecretKeyZ85, loaded.SecretKeyZ85);
            Assert.Throws<InvalidDataException>(() => CurveCertificateFile.LoadSecret(path)); // the public file has no secret

            var output = await PyzmqPeerTests.RunPythonAsync($"""
                import zmq.auth
                pub, _ = zmq.auth.load_certificate("{path}")
                pub2, sec = zmq.auth.load_certificate("{path}{CurveCertificateFile.SecretSuffix}")
                print(pub.decode(), pub2.decode(), sec.decode())
                """);
            Assert.Equal($"{keys.PublicKeyZ85} {keys.PublicKeyZ85} {keys.SecretKeyZ85}", output.Trim());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_pyzmq_curve_client_is_served_with_keys_pyzmq_made()
    {
        // libzmq's CURVE against NetMQ's, with a certificate pyzmq wrote (zmq.auth): the key
        // files and the handshake both follow ZeroMQ's specifications, not just NetMQ's reading.
        var dir = Directory.CreateTempSubdirectory("zmqaspire-curve-");
        try
        {
            await PyzmqPeerTests.RunPythonAsync($"""
                import zmq.auth
                zmq.auth.create_certificates("{dir.FullName}", "server")
                """);
            var serverKeys = CurveCertificateFile.LoadSecret(Path.Combine(dir.FullName, "server.key_secret"));
            using var server = new ResponderHost(reply: "World", curve: serverKeys);
            var output = await PyzmqPeerTests.RunPythonAsync($"""
                import zmq, zmq.auth
                server_public, _ = zmq.auth.load_certificate("{dir.FullName}/server.key")
                s = zmq.Context().socket(zmq.REQ)
                s.curve_secretkey, s.curve_publickey = zmq.curve_keypair()[::-1]
                s.curve_serverkey = server_public
                s.setsockopt(zmq.LINGER, 0)
                s.setsockopt(zmq.RCVTIMEO, 10000)
                s.connect("{server.Endpoint}")
                s.send(b"Hello")
                print(repr(s.recv_multipart()))
                """);
            Assert.Equal("[b'World']", output.Trim());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
