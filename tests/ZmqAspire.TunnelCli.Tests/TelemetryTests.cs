using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>
/// With OTEL_EXPORTER_OTLP_ENDPOINT set, zmq-tunnel exports its SSH spans and counters over OTLP;
/// the receiver here is a bare OTLP/HTTP endpoint on loopback that keeps what it is sent.
/// </summary>
[Collection(CliSshdCollection.Name)]
public sealed class TelemetryTests(CliSshdFixture sshd)
{
    [Fact]
    public async Task Spans_counters_and_bytes_forwarded_reach_the_OTLP_endpoint_named_by_the_standard_variables()
    {
        using var server = ReplyServer.Start();
        using var collector = new OtlpReceiver();
        using var tunnel = TunnelProcess.Start(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath],
            new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_SERVICE_NAME"] = "zmq-tunnel-under-test",
                ["OTEL_METRIC_EXPORT_INTERVAL"] = "300",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            });
        var ports = await tunnel.WaitForForwardsAsync(1, TimeSpan.FromSeconds(60));
        using (var req = new RequestSocket())
        {
            req.Connect(string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{ports[0]}"));
            req.SendFrame("Hello");
            Assert.True(req.TryReceiveFrameString(TimeSpan.FromSeconds(20), out var reply), "no reply through the tunnel\n" + tunnel.Describe);
            Assert.Equal(server.ExpectedGreeting, reply);
        }

        Assert.True(await TunnelProcess.WaitForAsync(() => collector.Contains("/v1/metrics", "zmqaspire.ssh.session.connects"), TimeSpan.FromSeconds(20)), "no connect counter exported\n" + tunnel.Describe);
        Assert.True(await TunnelProcess.WaitForAsync(() => collector.Contains("/v1/traces", "ssh connect"), TimeSpan.FromSeconds(20)), "no ssh connect span exported\n" + tunnel.Describe);
        // Bytes forwarded, by direction (the tunnel library's meter).
        Assert.True(await TunnelProcess.WaitForAsync(() => collector.Contains("/v1/metrics", "zmqaspire.tunnel.io") && collector.Contains("/v1/metrics", "transmit") && collector.Contains("/v1/metrics", "receive"), TimeSpan.FromSeconds(20)), "no bytes-forwarded counter exported\n" + tunnel.Describe);
        Assert.True(collector.Contains("/v1/traces", sshd.HostKeyFingerprint), "the connect span lacks the host key");
        Assert.True(collector.Contains("/v1/traces", "zmq-tunnel-under-test"), "OTEL_SERVICE_NAME was not used");

        // The session span ends (and is flushed) when the tunnel stops.
        tunnel.Signal("TERM");
        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(tunnel.Process.ExitCode == 0, tunnel.Describe);
        Assert.True(collector.Contains("/v1/traces", "ssh session"), "no ssh session span exported at shutdown\n" + tunnel.Describe);
    }

    /// <summary>Accepts OTLP/HTTP posts and keeps their bodies by path (protobuf: the names appear as UTF-8 bytes).</summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<(string Path, string Body)> _posts = new();

        public OtlpReceiver()
        {
            var port = LoopbackPort.Free();
            Endpoint = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
            _listener.Prefixes.Add(Endpoint + "/");
            _listener.Start();
            _ = ServeAsync();
        }

        public string Endpoint { get; }

        public bool Contains(string path, string text) =>
            _posts.Any(p => p.Path == path && p.Body.Contains(text, StringComparison.Ordinal));

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                _posts.Enqueue((context.Request.Url!.AbsolutePath, Encoding.Latin1.GetString(body.ToArray())));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }
    }
}
