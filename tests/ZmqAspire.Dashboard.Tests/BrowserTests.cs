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
            await OpenDetailAsync(page, row.GetByText(TraceName));
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

    /// <summary>
    /// Clicks the trace link until the detail page's URL is committed. Why not one click and the
    /// Load event: the link is routed by Blazor inside the page (no load event), and on a loaded
    /// machine the list can render before its circuit wires the click, so the first click may do
    /// nothing at all (seen once in a clean-clone run: 30 s "waiting for navigation until Load").
    /// </summary>
    private static async Task OpenDetailAsync(IPage page, ILocator link)
    {
        static bool IsDetail(string url) => url.Contains("/traces/detail/", StringComparison.Ordinal);
        for (var attempt = 1; ; attempt++)
        {
            await link.ClickAsync();
            try
            {
                await page.WaitForURLAsync(IsDetail, new() { WaitUntil = WaitUntilState.Commit, Timeout = 10_000 });
                return;
            }
            catch (TimeoutException) when (attempt < 5 && !IsDetail(page.Url))
            {
                // Not wired yet: click again.
            }
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
