using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace ZmqAspire.AppHost.Tests;

[Collection(AppHostCollection.Name)]
public sealed partial class EndToEndTests(AppHostFixture fixture)
{
    [Fact]
    public async Task Client_gets_every_reply_through_the_tunnel()
    {
        var lines = await fixture.WatchLogsAsync(
            "client", l => ReplyLines(l).Count() >= AppHostFixture.RequestCount, TimeSpan.FromMinutes(3));

        var replies = ReplyLines(lines).ToList();
        Assert.True(replies.Count >= AppHostFixture.RequestCount, "client log:\n" + string.Join('\n', lines.TakeLast(40)));
        Assert.Equal(Enumerable.Range(0, AppHostFixture.RequestCount).Select(n => $"{n}:World from 5556"), replies.Take(AppHostFixture.RequestCount));
        Assert.Contains(lines, l => l.Contains("SSH tunnel server up", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Client_becomes_healthy_when_the_tunnel_is_up()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("client", cts.Token);
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("bastion", cts.Token);
    }

    [Fact]
    public async Task The_console_names_the_clients_health_report_and_it_answers_Healthy()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync("client", cts.Token);

        var line = Assert.Single(
            fixture.App.Services.GetFakeLogCollector().GetSnapshot(),
            r => r.Category == "ZmqAspire.AppHost" && r.Message.StartsWith("The client's health report", StringComparison.Ordinal));
        var url = new Uri(line.Message[(line.Message.LastIndexOf(' ') + 1)..]);
        Assert.True(url.IsLoopback, url.ToString());
        Assert.Equal("/health", url.AbsolutePath);
        using var http = new HttpClient();
        var report = JsonDocument.Parse(await http.GetStringAsync(url, cts.Token)).RootElement;
        Assert.Equal("Healthy", report.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Server_receives_the_requests()
    {
        var lines = await fixture.WatchLogsAsync(
            "server", l => l.Count(x => x.Contains("Received request: Hello", StringComparison.Ordinal)) >= 1, TimeSpan.FromMinutes(3));
        Assert.Contains(lines, l => l.Contains("REP server bound to tcp://*:5556", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Received request: Hello", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_port_is_not_reachable_from_the_host()
    {
        // Nothing on the host's loopback serves the server's port ...
        foreach (var address in new[] { "127.0.0.1", "::1" })
        {
            using var tcp = new TcpClient(address.Contains(':', StringComparison.Ordinal) ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork);
            await Assert.ThrowsAnyAsync<SocketException>(() => tcp.ConnectAsync(address, 5556));
        }

        // ... and the container publishes no port at all (the bastion reaches it on the container network).
        var server = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "server", e => e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string { Length: > 0 }));
        var containerId = (string)server.Snapshot.Properties.First(p => p.Name == "container.id").Value!;
        var ports = await Docker.RunAsync("port", containerId);
        Assert.Equal(string.Empty, ports.Trim());
        var bastion = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "bastion", e => e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string { Length: > 0 }));
        var bastionPorts = await Docker.RunAsync("port", (string)bastion.Snapshot.Properties.First(p => p.Name == "container.id").Value!);
        Assert.Matches(@"^22/tcp -> 127\.0\.0\.1:\d+$", bastionPorts.Trim()); // control: a published port does show
    }

    private static IEnumerable<string> ReplyLines(IEnumerable<string> lines) =>
        lines.Select(l => ReplyPattern().Match(l)).Where(m => m.Success).Select(m => $"{m.Groups[1].Value}:{m.Groups[2].Value}");

    [GeneratedRegex(@"Received reply (\d+) \[ (.*) \]")]
    private static partial Regex ReplyPattern();
}
