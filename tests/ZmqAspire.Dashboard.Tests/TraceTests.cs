using System.Globalization;
using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>What the dashboard received: one trace per request, client span to server span, through the tunnel.</summary>
[Collection(DashboardCollection.Name)]
public sealed partial class TraceTests(DashboardFixture fixture)
{
    private const string Method = "zmqaspire.ReplyService/Request";
    private static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_request_sent_from_the_dashboard_is_one_trace_from_client_through_the_tunnel_to_server()
    {
        await fixture.WaitForClientHealthyAsync();

        var result = await fixture.ExecuteCommandAsync("client", "send-request");

        Assert.True(result.Success, result.Message);
        var traceId = TraceIdPattern().Match(result.Message ?? string.Empty).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(traceId), $"no trace id in the command's result: {result.Message}");
        var spans = await TelemetryApi.PollAsync(() => fixture.Telemetry.TraceAsync(traceId), s => s.Count >= 2, ExportTimeout);
        var client = Assert.Single(spans, s => s.Kind == Span.ClientKind);
        var server = Assert.Single(spans, s => s.Kind == Span.ServerKind);

        // One trace: the server span (exported by the container) is the client span's child.
        Assert.Equal("client", client.Service);
        Assert.Equal("server", server.Service);
        Assert.Equal(client.TraceId, server.TraceId);
        Assert.Equal(client.SpanId, server.ParentSpanId);
        Assert.True(string.IsNullOrEmpty(client.ParentSpanId), "the client span is the trace's root");
        Assert.All(spans, s => Assert.Equal("ZmqAspire.Messaging", s.Scope));
        Assert.All(spans, s => Assert.Equal(Method, s.Name));
        Assert.All(spans, s => Assert.NotEqual(2, s.StatusCode));

        // Client: RPC conventions, the peer it really talks to (the tunnel's local end) and the hop.
        var c = client.Attributes;
        Assert.Equal("zeromq", c["rpc.system.name"]);
        Assert.Equal(Method, c["rpc.method"]);
        Assert.Equal("server", c["server.address"]);
        Assert.Equal("5556", c["server.port"]);
        Assert.Equal("127.0.0.1", c["network.peer.address"]);
        Assert.Equal("tcp", c["network.transport"]);
        Assert.Equal(c["network.peer.port"], c["zmqaspire.tunnel.local_port"]);
        Assert.Equal("server:5556", c["zmqaspire.tunnel.target"]);
        var bastion = fixture.App.GetEndpoint("bastion", "ssh");
        Assert.EndsWith($":{bastion.Port}", c["zmqaspire.tunnel.bastion"], StringComparison.Ordinal);
        Assert.Equal("0", c["zmqaspire.request.retry_count"]);
        Assert.Equal("envelope", c["zmqaspire.message.format"]);
        Assert.True(long.Parse(c["zmqaspire.request.size"]!, CultureInfo.InvariantCulture) > "Hello".Length);
        Assert.True(long.Parse(c["zmqaspire.response.size"]!, CultureInfo.InvariantCulture) > "World from 5556".Length);

        // Server: the same request, as the envelope told it.
        var s = server.Attributes;
        Assert.Equal("zeromq", s["rpc.system.name"]);
        Assert.Equal("server", s["server.address"]);
        Assert.Equal("5556", s["server.port"]);
        Assert.Equal("envelope", s["zmqaspire.message.format"]);
        Assert.Equal(c["zmqaspire.request.sequence"], s["zmqaspire.request.sequence"]);
        Assert.Equal(c["zmqaspire.client.id"], s["zmqaspire.client.id"]);
        Assert.Equal(c["zmqaspire.request.size"], s["zmqaspire.request.size"]);
    }

    [Fact]
    public async Task Every_request_the_client_sends_on_its_own_joins_its_server_span()
    {
        var clientSpans = await TelemetryApi.PollAsync(
            () => fixture.Telemetry.SpansAsync("client"),
            spans => Requests(spans).Count() >= DashboardFixture.RequestCount,
            ExportTimeout);
        var serverSpans = await TelemetryApi.PollAsync(
            () => fixture.Telemetry.SpansAsync("server"),
            spans => Requests(spans).Count() >= DashboardFixture.RequestCount,
            ExportTimeout);

        for (var sequence = 0; sequence < DashboardFixture.RequestCount; sequence++)
        {
            var seq = sequence.ToString(CultureInfo.InvariantCulture);
            var client = Assert.Single(Requests(clientSpans), x => x.Kind == Span.ClientKind && x.Attributes["zmqaspire.request.sequence"] == seq);
            var server = Assert.Single(Requests(serverSpans), x => x.Kind == Span.ServerKind && x.Attributes["zmqaspire.request.sequence"] == seq);
            Assert.Equal(client.TraceId, server.TraceId);
            Assert.Equal(client.SpanId, server.ParentSpanId);
        }
    }

    [Fact]
    public async Task The_client_records_its_ssh_logins_as_spans()
    {
        var spans = await TelemetryApi.PollAsync(
            () => fixture.Telemetry.SpansAsync("client"), s => s.Any(x => x.Name == "ssh connect" && x.StatusCode != 2), ExportTimeout);
        var connect = spans.First(x => x.Name == "ssh connect" && x.StatusCode != 2);
        Assert.Equal("ZmqAspire.SshTunnel", connect.Scope);
        Assert.StartsWith("SHA256:", connect.Attributes["zmqaspire.ssh.host_key"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_and_server_both_export_metrics_to_the_dashboard()
    {
        // The dashboard's API lists what each resource sent; the instruments themselves are
        // checked on the Metrics page by the browser tests.
        var resources = await TelemetryApi.PollAsync(
            fixture.Telemetry.ResourcesAsync,
            r => r.EnumerateArray().Count(x => x.GetProperty("hasMetrics").GetBoolean() && x.GetProperty("hasTraces").GetBoolean() && x.GetProperty("hasLogs").GetBoolean()) >= 2,
            ExportTimeout);
        foreach (var name in new[] { "client", "server" })
        {
            var resource = resources.EnumerateArray().Single(r => r.GetProperty("name").GetString() == name);
            Assert.True(resource.GetProperty("hasTraces").GetBoolean(), $"{name} sent no traces");
            Assert.True(resource.GetProperty("hasMetrics").GetBoolean(), $"{name} sent no metrics");
            Assert.True(resource.GetProperty("hasLogs").GetBoolean(), $"{name} sent no logs");
        }
    }

    private static IEnumerable<Span> Requests(IEnumerable<Span> spans) => spans.Where(s => s.Name == Method);

    [GeneratedRegex(@"trace ([0-9a-f]{32})")]
    private static partial Regex TraceIdPattern();
}
