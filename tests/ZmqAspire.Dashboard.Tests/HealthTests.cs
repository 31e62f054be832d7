using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>The client's health follows its SSH tunnel, as the dashboard shows it; the reconnect command works.</summary>
[Collection(DashboardCollection.Name)]
public sealed class HealthTests(DashboardFixture fixture, BrowserFixture browser)
{
    [Fact]
    public async Task The_client_is_unhealthy_while_the_tunnel_is_down_and_recovers_when_the_bastion_is_back()
    {
        await fixture.WaitForClientHealthyAsync();
        try
        {
            var stop = await fixture.ExecuteCommandAsync("bastion", KnownResourceCommands.StopCommand);
            Assert.True(stop.Success, stop.Message);

            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var down = await fixture.App.ResourceNotifications.WaitForResourceAsync(
                "client", e => e.Snapshot.HealthStatus == HealthStatus.Unhealthy, cts.Token);
            var report = Assert.Single(down.Snapshot.HealthReports, r => r.Name == "ZmqAspire.SshTunnel_server" || r.Status == HealthStatus.Unhealthy);
            Assert.Equal(HealthStatus.Unhealthy, report.Status);

            // ... and the dashboard shows it.
            var page = await browser.LogInAsync(fixture.LoginUrl);
            var row = page.GetByRole(Microsoft.Playwright.AriaRole.Row).Filter(new() { HasText = "ZmqAspire.Client" });
            await Microsoft.Playwright.Assertions.Expect(row).ToContainTextAsync("Unhealthy");
            await browser.ScreenshotAsync(page, "client-unhealthy-tunnel-down");
            await page.Context.CloseAsync();
        }
        finally
        {
            var start = await fixture.ExecuteCommandAsync("bastion", KnownResourceCommands.StartCommand);
            Assert.True(start.Success, start.Message);
        }

        // The client logs in again by itself (the bastion keeps its host key and address).
        await fixture.WaitForClientHealthyAsync();
    }

    [Fact]
    public async Task The_reconnect_command_closes_the_session_and_logs_in_again()
    {
        await fixture.WaitForClientHealthyAsync();
        var result = await fixture.ExecuteCommandAsync("client", "reconnect-tunnel");

        Assert.True(result.Success, result.Message);
        var lines = await fixture.WatchLogsAsync("client", ReconnectedAfterAsking, TimeSpan.FromMinutes(1));
        Assert.True(ReconnectedAfterAsking(lines), "client log:\n" + string.Join('\n', lines.TakeLast(20)));
        await fixture.WaitForClientHealthyAsync();
    }

    private static bool ReconnectedAfterAsking(List<string> lines)
    {
        var closed = lines.FindLastIndex(l => l.Contains("SSH tunnel server: session closed (reconnect asked for)", StringComparison.Ordinal));
        return closed >= 0 && lines.Skip(closed).Any(l => l.Contains("SSH tunnel server up", StringComparison.Ordinal));
    }
}
