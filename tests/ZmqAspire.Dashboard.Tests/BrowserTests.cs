using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>
/// The dashboard as a person sees it, in headless chromium: the Traces page lists a trace that
/// spans client and server, its detail shows the server span under the client span, and the
/// Metrics page plots the request duration histograms. Each test saves a screenshot under
/// artifacts/test-results/dashboard/.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class BrowserTests(DashboardFixture fixture, BrowserFixture browser)
{
    private const string TraceName = "client: zmqaspire.ReplyService/Request";

    [Fact]
    public async Task Traces_page_shows_a_trace_from_client_to_server()
    {
        await fixture.WaitForClientHealthyAsync();
        var page = await browser.LogInAsync(fixture.LoginUrl);
        try
        {
            await page.GotoAsync(new Uri(fixture.LoginUrl, "/traces").ToString());

            // A row for a request trace that has spans from both resources.
            var row = page.GetByRole(AriaRole.Row)
                .Filter(new() { HasText = TraceName })
                .Filter(new() { HasText = "server (" })
                .First;
            await Expect(row).ToContainTextAsync("client (");
            await browser.ScreenshotAsync(page, "traces-list");

            // Its detail: the server span nested under the client span.
            await row.GetByText(TraceName).ClickAsync();
            await page.WaitForURLAsync(url => url.Contains("/traces/detail/", StringComparison.Ordinal));
            var spans = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "zmqaspire.ReplyService/Request" });
            await Expect(spans.Filter(new() { HasText = "client" }).First).ToBeVisibleAsync();
            await Expect(spans.Filter(new() { HasText = "server" }).First).ToBeVisibleAsync();
            await Expect(page.GetByText("Total spans")).ToBeVisibleAsync();
            await Expect(page.Locator("body")).ToContainTextAsync("Resources 2");
            await browser.ScreenshotAsync(page, "trace-client-to-server");
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }

    [Theory]
    [InlineData("client", "rpc.client.call.duration")]
    [InlineData("server", "rpc.server.call.duration")]
    public async Task Metrics_page_plots_the_request_duration_histogram(string resource, string instrument)
    {
        var page = await browser.LogInAsync(fixture.LoginUrl);
        try
        {
            await page.GotoAsync(new Uri(fixture.LoginUrl, $"/metrics/resource/{resource}?meter=ZmqAspire.Messaging&instrument={instrument}").ToString());

            // The meter's tree lists the instrument, and the chart shows percentiles in seconds.
            await Expect(page.GetByText("ZmqAspire.Messaging", new() { Exact = true })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = instrument })).ToBeVisibleAsync();
            await Expect(page.GetByText("P50 Seconds")).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Gridcell, new() { Name = "rpc.system.name" })).ToBeVisibleAsync();
            await browser.ScreenshotAsync(page, $"metrics-{instrument}");
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }
}
